// `make bench` (operator part), against a real etcd + kube-apiserver started here:
//  1. N Peas exist; the operator is started and timed until every Pea has its pod and a
//     written status. Baseline: a bare client doing the same writes (the pod, the token
//     Secret, the status) at the same concurrency, against the same server, in the same run;
//     and one doing only the pod and the status, as issue 3's first baseline did.
//  2. The rest of each Pea's lifecycle, with this benchmark playing the kubelet: every pod
//     Ready, then its runtime exited 0, then the Pea deleted. The operator's CPU time over
//     the whole run (from /proc) per Pea lifecycle, and its API writes per lifecycle.
//  3. The operator's RSS with M Peas and their pods in its caches, per Pea above idle.
// With two or more cores, etcd and kube-apiserver are pinned to core 0 and this process and
// the operators it starts to core 1 (taskset), so that the ratio measures the operator, not
// the CPU it takes from the API server (--no-pin to turn it off).
//   node dist/bench/operator.bench.js [--peas 1000] [--cached 10000] [--concurrency 4] [--no-pin]
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { request } from 'node:https';
import { parseArgs } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type Pea } from '../src/api/v1alpha1/types.js';
import { buildPod } from '../src/operator/pod.js';
import { buildTokenSecret } from '../src/operator/token.js';
import { startApiServer, type ApiServer } from '../test/harness/apiserver.js';
import { TestCluster } from '../test/harness/cluster.js';
import { freePort, killAll } from '../test/helpers/processes.js';

const { values } = parseArgs({
  options: {
    peas: { type: 'string', default: '1000' },
    cached: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '4' },
    'no-pin': { type: 'boolean', default: false },
  },
});
const N = Number(values.peas);
const M = Number(values.cached);
const C = Number(values.concurrency);
const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const PIN = !values['no-pin'] && cpus().length >= 2;
/** Node/V8 flags for every operator the benchmark starts, e.g. BENCH_NODE_ARGS='--max-semi-space-size=1'. */
const NODE_ARGS = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];

async function pool<T>(items: T[], concurrency: number, f: (t: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await f(items[next++] as T);
    }),
  );
}

async function createPeas(c: TestCluster, n: number, prefix: string): Promise<Pea[]> {
  const out: Pea[] = [];
  await pool([...Array(n).keys()], 16, async (i) => out.push(await c.createPea(`${prefix}-${i}`)));
  return out;
}

async function count(c: TestCluster): Promise<{ pods: number; written: number }> {
  const peas = (await c.custom.listNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: c.namespace,
    plural: PLURAL,
  })) as { items: Pea[] };
  const pods = await c.core.listNamespacedPod({ namespace: c.namespace });
  return { pods: pods.items.length, written: peas.items.filter((p) => p.status?.phase).length };
}

/** The API server's own count of write requests (create, patch, update, delete), by resource. */
async function writes(api: ApiServer): Promise<Map<string, number>> {
  const url = new URL('/metrics', api.url);
  const text = await new Promise<string>((resolve, reject) => {
    request(
      {
        hostname: url.hostname,
        port: url.port,
        path: url.pathname,
        rejectUnauthorized: false,
        headers: { authorization: `Bearer ${api.admin.getCurrentUser()?.token}` },
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(body));
      },
    )
      .on('error', reject)
      .end();
  });
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^apiserver_request_total\{([^}]*)\} (\d+)/gm)) {
    const labels = Object.fromEntries(
      [...(m[1] as string).matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]),
    );
    if (!['POST', 'PATCH', 'PUT', 'DELETE'].includes(labels.verb ?? '')) continue;
    const key =
      `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ''}` +
      `${labels.code === '409' ? ' (409)' : ''}`;
    out.set(key, (out.get(key) ?? 0) + Number(m[2]));
  }
  return out;
}

/** Writes per Pea between two counts, e.g. "POST pods 1.00, PATCH peas/status 1.00". */
function perPea(before: Map<string, number>, after: Map<string, number>, n: number): string {
  const rows = [...after]
    .map(([k, v]) => [k, (v - (before.get(k) ?? 0)) / n] as const)
    .filter(([, v]) => v >= 0.005);
  const total = rows.reduce((sum, [k, v]) => sum + (k.endsWith('(409)') ? 0 : v), 0);
  return `${total.toFixed(2)}: ${rows
    .sort()
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(', ')}`;
}

/**
 * The bare client: for each Pea, create its pod and patch its status, C at a time. With
 * `secured`, also the control-token Secret, in parallel with the pod as the operator sends
 * it: the same writes as the operator's. The gap between the operator and this one is the
 * operator's own overhead. Resolves the time and this process's CPU time, in ms.
 */
async function bare(
  c: TestCluster,
  peas: Pea[],
  secured = false,
): Promise<{ seconds: number; cpuMs: number }> {
  const key = randomBytes(32);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await pool(peas, C, async (pea) => {
    await Promise.all([
      c.core.createNamespacedPod({ namespace: c.namespace, body: buildPod(pea, 'bench-hook-token') }),
      secured && c.core.createNamespacedSecret({ namespace: c.namespace, body: buildTokenSecret(pea, key) }),
    ]);
    await c.custom.patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        namespace: c.namespace,
        plural: PLURAL,
        name: pea.metadata.name!,
        body: { status: { phase: 'Pending' } },
      },
      MERGE,
    );
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { seconds, cpuMs: (cpu.user + cpu.system) / 1000 };
}

/**
 * What one watch per kind sees of the namespace: the pods added, each Pea's phase, the Peas
 * gone. Polling with LISTs of every Pea and pod (as this benchmark first did) loaded the API
 * server that the operator is measured on, and only during its run.
 */
class Tracker {
  readonly pods = new Set<string>();
  readonly phases = new Map<string, string>();
  readonly gone = new Set<string>();
  /** When the first pod was seen (performance.now()): the end of the operator's own start. */
  firstPodAt: number | undefined;
  private readonly aborts: AbortController[] = [];
  private stopped = false;
  private waiters: Array<() => void> = [];
  private failed: Error | undefined;

  static async start(c: TestCluster): Promise<Tracker> {
    const t = new Tracker();
    const rv = (
      (await c.custom.listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: c.namespace,
        plural: PLURAL,
        limit: 1,
      })) as { metadata: { resourceVersion: string } }
    ).metadata.resourceVersion;
    const peas = `/apis/${GROUP}/${VERSION}/namespaces/${c.namespace}/${PLURAL}`;
    await t.follow(c, peas, rv, (type, pea: Pea) => {
      const name = pea.metadata.name as string;
      if (type === 'DELETED') t.gone.add(name);
      else if (pea.status?.phase) t.phases.set(name, pea.status.phase);
    });
    await t.follow(c, `/api/v1/namespaces/${c.namespace}/pods`, rv, (type, pod: k8s.V1Pod) => {
      if (type === 'ADDED') t.pods.add(pod.metadata?.name as string);
      t.firstPodAt ??= performance.now();
    });
    return t;
  }

  /**
   * Watches `path` from `rv` until stop(), opening the watch again from the last version
   * seen whenever it ends (client-node ends a watch quiet for 30 s with a TimeoutError).
   */
  private async follow<T extends k8s.KubernetesObject>(
    c: TestCluster,
    path: string,
    rv: string,
    onEvent: (type: string, obj: T) => void,
  ): Promise<void> {
    const watch = new k8s.Watch(c.api.admin);
    let last = rv;
    const open = async (): Promise<void> => {
      const query = { resourceVersion: last, allowWatchBookmarks: true };
      const event = (type: string, obj: T): void => {
        last = obj.metadata?.resourceVersion ?? last;
        if (type !== 'BOOKMARK') onEvent(type, obj);
        this.changed();
      };
      const ended = (): void => {
        if (this.stopped) return;
        open().catch((err: unknown) => {
          this.failed = err instanceof Error ? err : new Error(String(err));
          this.changed();
        });
      };
      this.aborts.push(await watch.watch(path, query, event, ended));
    };
    await open();
  }
  /** How many Peas are in `phase` now. */
  count(phase: string): number {
    return [...this.phases.values()].filter((p) => p === phase).length;
  }

  /** Resolves once `done()` holds, as the watches see it. */
  async until(done: () => boolean): Promise<void> {
    while (!done()) {
      if (this.failed) throw this.failed;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  stop(): void {
    this.stopped = true;
    this.aborts.forEach((a) => a.abort());
  }

  private changed(): void {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }
}

/** CPU time (user + system) a process has used, in ms, from /proc/PID/stat. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of stat, 12 and 13 after "pid (comm) ".
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux
}

/** What the kubelet would write for a pod: Running and Ready, or its containers exited 0. */
function podStatus(state: 'ready' | 'exited'): k8s.V1PodStatus {
  const now = new Date();
  const ready = state === 'ready';
  const container = (name: string): k8s.V1ContainerStatus => ({
    name,
    image: 'example/runtime:1',
    imageID: '',
    ready,
    restartCount: 0,
    state: ready
      ? { running: { startedAt: now } }
      : { terminated: { exitCode: 0, reason: 'Completed', startedAt: now, finishedAt: now } },
  });
  return {
    phase: ready ? 'Running' : 'Succeeded',
    podIP: '127.0.0.1',
    conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: now }],
    initContainerStatuses: [container('pea-runtime')],
    containerStatuses: [container('runtime')],
  };
}

interface OperatorRun {
  seconds: number;
  /** Spawn → its first pod: Node, module loading, the caches' first list. */
  startupSeconds: number;
  /** The operator's CPU until every Pea had its pod and status, and for whole lifecycles. */
  startCpuMs: number;
  lifecycleCpuMs: number;
  writesStarted: Map<string, number>;
  writesEnded: Map<string, number>;
}

/**
 * The operator from start until every Pea has its pod and a status; then, this process
 * playing the kubelet, every pod Ready, then its runtime exited 0; then every Pea deleted
 * (and gone). The operator's CPU time is read at both ends.
 */
async function operatorRun(c: TestCluster, n: number): Promise<OperatorRun> {
  const seen = await Tracker.start(c);
  const t0 = performance.now();
  const op = c.startOperator(['--max-concurrent-reconciles', String(C), '--log-level', 'warn'], NODE_ARGS);
  const exited = op.exited.then(() =>
    Promise.reject(new Error(`operator exited: ${op.output().slice(-2000)}`)),
  );
  const pid = op.child.pid!;
  const step = (done: () => boolean): Promise<void> => Promise.race([seen.until(done), exited]);
  await step(() => seen.pods.size >= n && seen.phases.size >= n);
  const seconds = (performance.now() - t0) / 1000;
  const startupSeconds = ((seen.firstPodAt ?? t0) - t0) / 1000;
  const startCpuMs = cpuMs(pid);
  const writesStarted = await writes(c.api);
  const pods = [...seen.pods];
  const kubelet = (state: 'ready' | 'exited') =>
    pool(pods, 16, (name) =>
      c.core.patchNamespacedPodStatus(
        { name, namespace: c.namespace, body: { status: podStatus(state) } },
        MERGE,
      ),
    );
  await kubelet('ready');
  await step(() => seen.count('Ready') >= n);
  await kubelet('exited');
  await step(() => seen.count('Succeeded') >= n);
  const names = [...seen.phases.keys()];
  await pool(names, 16, (name) =>
    c.custom.deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: c.namespace,
      plural: PLURAL,
      name,
    }),
  );
  await step(() => seen.gone.size >= n);
  await new Promise((r) => setTimeout(r, 1000)); // what the deletions still cause
  const lifecycleCpuMs = cpuMs(pid);
  const writesEnded = await writes(c.api);
  seen.stop();
  exited.catch(() => undefined);
  op.child.kill('SIGTERM');
  await op.exited;
  return { seconds, startupSeconds, startCpuMs, lifecycleCpuMs, writesStarted, writesEnded };
}

/** Pins a process (every thread) to one core. */
function pin(pid: number, core: number): void {
  execFileSync('taskset', ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' });
}

/** Children of this process whose command is one of `names` (etcd, kube-apiserver). */
function children(names: string[]): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && names.includes(comm)) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Live heap as the operator's own /metrics reports it (prom-client default metrics). */
async function heapUsedKiB(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/^nodejs_heap_size_used_bytes (\d+)/m.exec(text)?.[1]) / 1024;
}

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
}

/** An anonymous mapping's kind, told by its size: V8 maps its heap 256 KiB a page. */
function anonymousKind(bytes: number): string {
  if (bytes === 256 * 1024) return '[anonymous, 256 KiB each: V8 heap pages]';
  return bytes >= 1024 * 1024 ? '[anonymous, 1 MiB or more]' : '[anonymous, under 1 MiB]';
}

/** Where the RSS is, by kind of mapping: anonymous ones are V8's heap pages and malloc's. */
function rssBreakdown(pid: number): string {
  const groups = new Map<string, { kib: number; n: number }>();
  let what = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) what = head[3] || anonymousKind(parseInt(head[2]!, 16) - parseInt(head[1]!, 16));
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (!rss) continue;
    const g = groups.get(what) ?? { kib: 0, n: 0 };
    g.kib += Number(rss[1]);
    g.n++;
    groups.set(what, g);
  }
  const rows = [...groups].sort((a, b) => b[1].kib - a[1].kib).slice(0, 6);
  return [
    'resident memory of the loaded operator, by mapping:',
    ...rows.map(([w, g]) => `  ${(g.kib / 1024).toFixed(1).padStart(7)} MiB  ${w} (${g.n} mappings)`),
  ].join('\n');
}

interface Memory {
  idle: number;
  loaded: number;
  perPea: number;
  /** The same three once V8's memory reducer has run (it starts 8 s after the last busy GC). */
  idleSettled: number;
  loadedSettled: number;
  perPeaSettled: number;
  heapIdle: number;
  heapLoaded: number;
  heapPerPea: number;
}

/**
 * How long both operators then stay idle before their RSS is read again: V8's memory reducer
 * starts 8 s after the last GC of a busy heap (--gc-memory-reducer-start-delay-ms) and runs
 * up to two GCs that give pooled heap pages back; until it has, RSS still holds the pages of
 * the reconciles just done. A long-running operator lives in the settled state.
 */
const SETTLE_MS = 30_000;

async function rssPerPea(api: ApiServer): Promise<Memory> {
  const empty = new TestCluster(api, 'rss-idle');
  await empty.createNamespace();
  const port = await freePort();
  // --expose-gc: each /metrics scrape runs a full GC first, so both figures are live memory.
  const idleOp = empty.startOperator(
    ['--log-level', 'warn', '--metrics-bind-address', `127.0.0.1:${port}`],
    ['--expose-gc', ...NODE_ARGS],
  );
  await new Promise((r) => setTimeout(r, 3000));
  const heapIdle = await heapUsedKiB(port);
  const idle = rssKiB(idleOp.child.pid!);
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const idleSettled = rssKiB(idleOp.child.pid!);
  idleOp.child.kill('SIGTERM');
  await idleOp.exited;

  const full = new TestCluster(api, 'rss-full');
  await full.createNamespace();
  const peas = await createPeas(full, M, 'r');
  await pool(peas, 16, (pea) =>
    full.core.createNamespacedPod({ namespace: full.namespace, body: buildPod(pea, 'bench-hook-token') }),
  );
  const port2 = await freePort();
  const op = full.startOperator(
    [
      '--log-level',
      'warn',
      '--max-concurrent-reconciles',
      '8',
      '--metrics-bind-address',
      `127.0.0.1:${port2}`,
    ],
    ['--expose-gc', ...NODE_ARGS],
  );
  for (;;) {
    if ((await count(full)).written >= M) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  await new Promise((r) => setTimeout(r, 5000)); // let the queue drain and GC settle
  const heapLoaded = await heapUsedKiB(port2);
  const loaded = rssKiB(op.child.pid!);
  process.stdout.write(`${rssBreakdown(op.child.pid!)}\n`);
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const loadedSettled = rssKiB(op.child.pid!);
  process.stdout.write(`once settled, ${rssBreakdown(op.child.pid!)}\n`);
  const text = await (await fetch(`http://127.0.0.1:${port2}/metrics`)).text();
  process.stdout.write(
    `${text
      .split('\n')
      .filter((l) => /^nodejs_(external_memory|heap_size_total|heap_space_size_used)/.test(l))
      .join('\n')}\n`,
  );
  op.child.kill('SIGTERM');
  await op.exited;
  return {
    idle,
    loaded,
    perPea: (loaded - idle) / M,
    idleSettled,
    loadedSettled,
    perPeaSettled: (loadedSettled - idleSettled) / M,
    heapIdle,
    heapLoaded,
    heapPerPea: (heapLoaded - heapIdle) / M,
  };
}

async function main(): Promise<void> {
  process.stdout.write(
    `operator benchmark: ${N} Peas, concurrency ${C}; RSS with ${M} Peas cached; ` +
      `operator node flags: ${NODE_ARGS.join(' ') || 'none'}\n`,
  );
  const api = await startApiServer();
  if (PIN) {
    const server = children(['etcd', 'kube-apiserver']);
    server.forEach((pid) => pin(pid, 0));
    pin(process.pid, 1); // the operators started from here inherit it
    process.stdout.write(
      `pinned: etcd + kube-apiserver (${server.length} processes) to core 0; client and operator to core 1\n`,
    );
  }
  try {
    const baseline = new TestCluster(api, 'bench-bare');
    await baseline.createNamespace();
    const barePeas = await createPeas(baseline, N, 'b');
    const w0 = await writes(api);
    const plain = await bare(baseline, barePeas);
    const w1 = await writes(api);
    const securedBaseline = new TestCluster(api, 'bench-bare-secured');
    await securedBaseline.createNamespace();
    const securedPeas = await createPeas(securedBaseline, N, 's');
    const w4 = await writes(api);
    const same = await bare(securedBaseline, securedPeas, true);
    const w5 = await writes(api);
    const ours = new TestCluster(api, 'bench-operator');
    await ours.createNamespace();
    await createPeas(ours, N, 'o');
    const w2 = await writes(api);
    const run = await operatorRun(ours, N);
    const rss = await rssPerPea(api);
    const row = (what: string, v: string): void => void process.stdout.write(`${what.padEnd(56)}${v}\n`);
    const rate = (seconds: number): string => `${seconds.toFixed(2)} s  (${(N / seconds).toFixed(0)} Peas/s)`;
    process.stdout.write('\n');
    row(`bare client: ${N} pod creates + ${N} status patches`, rate(plain.seconds));
    row(`bare client, same writes (+ ${N} token Secrets)`, rate(same.seconds));
    const working = run.seconds - run.startupSeconds;
    row(`operator: ${N} Peas → pods created, status written`, rate(run.seconds));
    row('  of which its own start (spawn → first pod)', `${run.startupSeconds.toFixed(2)} s`);
    row('  and the rest (first pod → last status)', rate(working));
    row('ratio operator / bare (pod + status)', (plain.seconds / run.seconds).toFixed(2));
    row('ratio operator / bare with the same writes', (same.seconds / run.seconds).toFixed(2));
    row('  the same, after its start (target ≥ 0.9)', (same.seconds / working).toFixed(2));
    row('API writes per Pea, bare client', perPea(w0, w1, N));
    row('API writes per Pea, bare client, same writes', perPea(w4, w5, N));
    row('API writes per Pea, operator (until all started)', perPea(w2, run.writesStarted, N));
    row('API writes per Pea lifecycle, operator and kubelet', perPea(w2, run.writesEnded, N));
    row('CPU ms per Pea, bare client, same writes', (same.cpuMs / N).toFixed(2));
    row('CPU ms per Pea, operator (until all started)', (run.startCpuMs / N).toFixed(2));
    row('CPU ms per Pea lifecycle, operator (process total)', (run.lifecycleCpuMs / N).toFixed(2));
    row('operator RSS idle', `${(rss.idle / 1024).toFixed(1)} MiB`);
    row(`operator RSS with ${M} Peas + pods cached`, `${(rss.loaded / 1024).toFixed(1)} MiB`);
    row('RSS per Pea above idle (target ≤ 10 KiB)', `${rss.perPea.toFixed(2)} KiB`);
    row(
      `the same ${SETTLE_MS / 1000} s later: idle → loaded`,
      `${(rss.idleSettled / 1024).toFixed(1)} → ${(rss.loadedSettled / 1024).toFixed(1)} MiB`,
    );
    row('  RSS per Pea above idle, settled (target ≤ 10 KiB)', `${rss.perPeaSettled.toFixed(2)} KiB`);
    row(
      'V8 heap used: idle → loaded',
      `${(rss.heapIdle / 1024).toFixed(1)} → ${(rss.heapLoaded / 1024).toFixed(1)} MiB`,
    );
    row('heap used per Pea above idle', `${rss.heapPerPea.toFixed(2)} KiB`);
  } finally {
    killAll();
    await api.stop();
  }
}

await main();

// `make bench` (operator part), against a real etcd + kube-apiserver started here:
//  1. N Peas exist; the operator is started and timed until every Pea has its pod and a
//     written status. Baseline: a bare client doing the same writes (N pod creates + N status
//     patches) at the same concurrency, against the same server, in the same run; and a
//     second bare client that also adds the finalizer and the token Secret, as the operator must.
//  2. The operator's RSS with M Peas and their pods in its caches, per Pea above idle.
//   node dist/bench/operator.bench.js [--peas 1000] [--cached 10000] [--concurrency 4]
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { parseArgs } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type Pea } from '../src/api/v1alpha1/types.js';
import { FINALIZER } from '../src/operator/decide.js';
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
  },
});
const N = Number(values.peas);
const M = Number(values.cached);
const C = Number(values.concurrency);
const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
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
 * `secured`, also the two writes issue 3's baseline predates: the finalizer (cancel on
 * delete) and the control-token Secret (issue 5), in parallel with the pod as the operator
 * sends them. The gap between the operator and this one is the operator's own overhead.
 */
async function bare(c: TestCluster, peas: Pea[], secured = false): Promise<number> {
  const key = randomBytes(32);
  const t0 = performance.now();
  await pool(peas, C, async (pea) => {
    const name = pea.metadata.name as string;
    await Promise.all([
      c.core.createNamespacedPod({ namespace: c.namespace, body: buildPod(pea, 'bench-hook-token') }),
      secured && c.core.createNamespacedSecret({ namespace: c.namespace, body: buildTokenSecret(pea, key) }),
      secured &&
        c.custom.patchNamespacedCustomObject(
          {
            group: GROUP,
            version: VERSION,
            namespace: c.namespace,
            plural: PLURAL,
            name,
            body: { metadata: { finalizers: [FINALIZER] } },
          },
          MERGE,
        ),
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
  return (performance.now() - t0) / 1000;
}

/**
 * Resolves once n pods exist in the namespace and n Peas have a status phase, as one watch
 * per kind sees them. Polling with LISTs of every Pea and pod (as this benchmark first did)
 * loaded the API server that the operator is measured on, and only during its run.
 */
async function observe(c: TestCluster, n: number): Promise<{ done: Promise<void>; stop: () => void }> {
  const watch = new k8s.Watch(c.api.admin);
  const pods = new Set<string>();
  const written = new Set<string>();
  const aborts: AbortController[] = [];
  let settle: (err?: unknown) => void = () => undefined;
  const done = new Promise<void>(
    (resolve, reject) =>
      (settle = (err) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve())),
  );
  const check = (): void => void (pods.size >= n && written.size >= n && settle());
  const rv = (
    (await c.custom.listNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: c.namespace,
      plural: PLURAL,
      limit: 1,
    })) as { metadata: { resourceVersion: string } }
  ).metadata.resourceVersion;
  const ended = (err: unknown): void => void (err && settle(err));
  aborts.push(
    await watch.watch(
      `/apis/${GROUP}/${VERSION}/namespaces/${c.namespace}/${PLURAL}`,
      { resourceVersion: rv },
      (_type, pea: Pea) => {
        if (pea.status?.phase) written.add(pea.metadata.name as string);
        check();
      },
      ended,
    ),
  );
  aborts.push(
    await watch.watch(
      `/api/v1/namespaces/${c.namespace}/pods`,
      { resourceVersion: rv },
      (type, pod: k8s.V1Pod) => {
        if (type === 'ADDED') pods.add(pod.metadata?.name as string);
        check();
      },
      ended,
    ),
  );
  return { done, stop: () => aborts.forEach((a) => a.abort()) };
}

async function operatorRun(
  c: TestCluster,
  n: number,
): Promise<{ seconds: number; writesDone: Map<string, number> }> {
  const seen = await observe(c, n);
  const t0 = performance.now();
  const op = c.startOperator(['--max-concurrent-reconciles', String(C), '--log-level', 'warn'], NODE_ARGS);
  const exited = op.exited.then(() =>
    Promise.reject(new Error(`operator exited: ${op.output().slice(-2000)}`)),
  );
  await Promise.race([seen.done, exited]);
  const seconds = (performance.now() - t0) / 1000;
  const writesDone = await writes(c.api);
  seen.stop();
  exited.catch(() => undefined);
  op.child.kill('SIGTERM');
  await op.exited;
  return { seconds, writesDone };
}

/** Live heap as the operator's own /metrics reports it (prom-client default metrics). */
async function heapUsedKiB(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/^nodejs_heap_size_used_bytes (\d+)/m.exec(text)?.[1]) / 1024;
}

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
}

/** Where the RSS is, by kind of mapping: anonymous ones are V8's heap pages and malloc's. */
function rssBreakdown(pid: number): string {
  const groups = new Map<string, { kib: number; n: number }>();
  let what = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) what = head[1] || '[anonymous]';
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (!rss) continue;
    const g = groups.get(what) ?? { kib: 0, n: 0 };
    g.kib += Number(rss[1]);
    g.n++;
    groups.set(what, g);
  }
  const rows = [...groups].sort((a, b) => b[1].kib - a[1].kib).slice(0, 5);
  return [
    'resident memory of the loaded operator, by mapping:',
    ...rows.map(([w, g]) => `  ${(g.kib / 1024).toFixed(1).padStart(7)} MiB  ${w} (${g.n} mappings)`),
  ].join('\n');
}

interface Memory {
  idle: number;
  loaded: number;
  perPea: number;
  heapIdle: number;
  heapLoaded: number;
  heapPerPea: number;
}

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
  try {
    const baseline = new TestCluster(api, 'bench-bare');
    await baseline.createNamespace();
    const barePeas = await createPeas(baseline, N, 'b');
    const w0 = await writes(api);
    const bareSeconds = await bare(baseline, barePeas);
    const w1 = await writes(api);
    const securedBaseline = new TestCluster(api, 'bench-bare-secured');
    await securedBaseline.createNamespace();
    const securedPeas = await createPeas(securedBaseline, N, 's');
    const w4 = await writes(api);
    const securedSeconds = await bare(securedBaseline, securedPeas, true);
    const w5 = await writes(api);
    const ours = new TestCluster(api, 'bench-operator');
    await ours.createNamespace();
    await createPeas(ours, N, 'o');
    const w2 = await writes(api);
    const { seconds: opSeconds, writesDone } = await operatorRun(ours, N);
    const w3 = await writes(api);
    const rss = await rssPerPea(api);
    const row = (what: string, v: string): void => void process.stdout.write(`${what.padEnd(52)}${v}\n`);
    process.stdout.write('\n');
    row(
      `bare client: ${N} pod creates + ${N} status patches`,
      `${bareSeconds.toFixed(2)} s  (${(N / bareSeconds).toFixed(0)} Peas/s)`,
    );
    row(
      `operator: ${N} Peas → pods created, status written`,
      `${opSeconds.toFixed(2)} s  (${(N / opSeconds).toFixed(0)} Peas/s)`,
    );
    row('ratio operator / bare (target ≥ 0.7)', (bareSeconds / opSeconds).toFixed(2));
    row(
      `bare client, + finalizer + token Secret`,
      `${securedSeconds.toFixed(2)} s  (${(N / securedSeconds).toFixed(0)} Peas/s)`,
    );
    row('ratio operator / bare with the same writes', (securedSeconds / opSeconds).toFixed(2));
    row('API writes per Pea, bare client', perPea(w0, w1, N));
    row('API writes per Pea, bare client + finalizer + Secret', perPea(w4, w5, N));
    row('API writes per Pea, operator (until all done)', perPea(w2, writesDone, N));
    row('API writes per Pea, operator (to its exit)', perPea(w2, w3, N));
    row('operator RSS idle', `${(rss.idle / 1024).toFixed(1)} MiB`);
    row(`operator RSS with ${M} Peas + pods cached`, `${(rss.loaded / 1024).toFixed(1)} MiB`);
    row('RSS per Pea above idle (target ≤ 10 KiB)', `${rss.perPea.toFixed(2)} KiB`);
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

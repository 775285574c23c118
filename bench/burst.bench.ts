// `make bench-burst` (part of `make bench`), on a real cluster with the operator installed
// (hack/bench-e2e.sh --burst sets that up; KUBECONFIG says which cluster). For each size N:
//  1. N bare pods created at once (the image, runtime command and security context of the
//     Pea's runtime container; no probe), timed to all Ready, then deleted and waited for;
//  2. N Peas created at once (ready: none), timed to all Peas Ready, then deleted likewise.
// It prints the all-Ready time and the ratio, where each pod's start went (created →
// scheduled → sidecar started → runtime started → pod Ready → Pea Ready, as first seen on a
// watch, so to the millisecond rather than the second of the status timestamps), and the
// CPU-seconds each pod's cgroup used up to Ready and after it settled: read from the node's
// cgroups, so only where the benchmark runs on the node as root (the local cluster).
// Also the whole node's CPU-seconds over each burst (/proc/stat) and the load average,
// because on a shared machine other work lands in every figure. Asserts nothing.
//   node dist/bench/burst.bench.js [--sizes 10,30] [--settle 5]
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../src/api/v1alpha1/types.js';
import { barePod, peaManifest } from './manifests.js';
import { percentile } from './stats.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10,30' },
    settle: { type: 'string', default: '5' },
    image: { type: 'string', default: process.env.PEAPODS_IMAGE ?? 'peapods/peapods:dev' },
  },
});
const SIZES = values.sizes.split(',').map(Number);
const SETTLE_MS = Number(values.settle) * 1000;
const IMAGE = values.image;
const NS = 'peapods-burst';
/** A Node runtime that does nothing: what the start of a Node process costs, and no more. */
const RUNTIME = ['node', '-e', 'setInterval(() => {}, 1 << 30)'];

const kc = new k8s.KubeConfig();
kc.loadFromDefault();
const core = kc.makeApiClient(k8s.CoreV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const watch = new k8s.Watch(kc);

/** When each step of one pod's start was first seen, in ms since the burst began. */
interface Timeline {
  uid?: string;
  created?: number;
  /** The pod's first watch event: for a Pea, once the operator created its pod. */
  podSeen?: number;
  scheduled?: number;
  sidecarStarted?: number;
  runtimeStarted?: number;
  ready?: number;
  peaReady?: number;
  /** CPU-seconds of the pod's cgroup when it was first seen Ready, and after the settle. */
  cpuAtReady?: number;
  cpuSettled?: number;
}

const isReady = (o: { status?: { conditions?: { type: string; status: string }[] } }): boolean =>
  o.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** The pod's cgroup CPU time in seconds (cgroup v1 cpuacct or v2 cpu.stat), or NaN off the node. */
function podCpuSeconds(uid: string): number {
  // cgroupfs driver: kubepods[/burstable|/besteffort]/pod<uid>, under the v1 cpuacct
  // hierarchy (mounted alone or as cpu,cpuacct) or the v2 root.
  for (const root of ['/sys/fs/cgroup/cpuacct', '/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup']) {
    for (const qos of ['', 'burstable', 'besteffort']) {
      const dir = join(root, 'kubepods', qos, `pod${uid}`);
      if (existsSync(join(dir, 'cpuacct.usage')))
        return Number(readFileSync(join(dir, 'cpuacct.usage'), 'utf8')) / 1e9;
      if (!existsSync(join(dir, 'cpu.stat'))) continue;
      const m = /usage_usec (\d+)/.exec(readFileSync(join(dir, 'cpu.stat'), 'utf8'));
      if (m) return Number(m[1]) / 1e6;
    }
  }
  return NaN;
}

/** Busy CPU-seconds of the whole node so far (/proc/stat: everything but idle and iowait). */
function nodeBusySeconds(): number {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const busy = f.reduce((a, b) => a + b, 0) - (f[3] ?? 0) - (f[4] ?? 0);
  return busy / 100; // USER_HZ
}

type PodObj = k8s.V1Pod & { metadata: { name: string; uid: string } };

/** Records, per pod, when the watch first showed each step of its start. */
function track(pod: PodObj, t: Timeline, now: number): void {
  const s = pod.status;
  t.uid ??= pod.metadata.uid;
  t.podSeen ??= now;
  if (t.scheduled === undefined && pod.spec?.nodeName) t.scheduled = now;
  const running = (cs: k8s.V1ContainerStatus[] | undefined, name: string): boolean =>
    cs?.some((c) => c.name === name && c.state?.running !== undefined) ?? false;
  if (t.sidecarStarted === undefined && running(s?.initContainerStatuses, 'pea-runtime'))
    t.sidecarStarted = now;
  if (t.runtimeStarted === undefined && running(s?.containerStatuses, 'runtime')) t.runtimeStarted = now;
  if (t.ready === undefined && isReady(pod)) {
    t.ready = now;
    t.cpuAtReady = podCpuSeconds(pod.metadata.uid);
  }
}

const bare = (name: string): k8s.V1Pod =>
  barePod(
    name,
    { image: IMAGE, command: RUNTIME },
    { terminationGracePeriodSeconds: 5, automountServiceAccountToken: false },
    { burst: 'bare' },
  );

const pea = (name: string): object =>
  peaManifest(name, {
    image: IMAGE,
    command: RUNTIME,
    ready: { none: {} },
    timeouts: { readySeconds: 300, cancelSeconds: 2, teardownSeconds: 5 },
  });

/** Watches the namespace's pods (and Peas) until every one of `n` is Ready; returns the timelines. */
async function burst(kind: 'bare' | 'pea', n: number): Promise<{ lines: Timeline[]; all: number }> {
  const byPod = new Map<string, Timeline>();
  const byPea = new Map<string, Timeline>();
  const lineOfPod = (name: string): Timeline => {
    // A Pea's pod is NAME-pea; its timeline is the Pea's.
    const key = kind === 'pea' ? name.replace(/-pea$/, '') : name;
    const map = kind === 'pea' ? byPea : byPod;
    if (!map.has(key)) map.set(key, {});
    return map.get(key) as Timeline;
  };
  let t0 = 0;
  let readyCount = 0;
  let resolve!: (t: number) => void;
  const allReady = new Promise<number>((r) => (resolve = r));
  const count = (): void => {
    const lines = [...(kind === 'pea' ? byPea : byPod).values()];
    const done = lines.filter((l) => (kind === 'pea' ? l.peaReady : l.ready) !== undefined).length;
    if (done > readyCount && (readyCount = done) === n) resolve(performance.now() - t0);
  };
  const podWatch = await watch.watch(
    `/api/v1/namespaces/${NS}/pods`,
    {},
    (_type, pod: PodObj) => {
      track(pod, lineOfPod(pod.metadata.name), performance.now() - t0);
      count();
    },
    () => undefined,
  );
  const peaWatch =
    kind === 'pea'
      ? await watch.watch(
          `/apis/${GROUP}/${VERSION}/namespaces/${NS}/${PLURAL}`,
          {},
          (
            _type,
            o: { metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } },
          ) => {
            const l = lineOfPod(`${o.metadata.name}-pea`);
            if (l.peaReady === undefined && isReady(o)) l.peaReady = performance.now() - t0;
            count();
          },
          () => undefined,
        )
      : undefined;
  t0 = performance.now();
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const name = `${kind}-${n}-${i}`;
      if (kind === 'bare') await core.createNamespacedPod({ namespace: NS, body: bare(name) });
      else
        await custom.createNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: NS,
          plural: PLURAL,
          body: pea(name),
        });
      lineOfPod(kind === 'pea' ? `${name}-pea` : name).created = performance.now() - t0;
    }),
  );
  const all = await allReady;
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const lines = [...(kind === 'pea' ? byPea : byPod).values()];
  for (const l of lines) l.cpuSettled = l.uid ? podCpuSeconds(l.uid) : NaN;
  podWatch.abort();
  peaWatch?.abort();
  return { lines, all };
}

/** Deletes everything the burst made and waits until no pod is left in the namespace. */
async function cleanUp(): Promise<void> {
  const peas = (await custom.listNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: NS,
    plural: PLURAL,
  })) as { items: { metadata: { name: string } }[] };
  await Promise.all(
    peas.items.map((p) =>
      custom.deleteNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: NS,
        plural: PLURAL,
        name: p.metadata.name,
      }),
    ),
  );
  await core.deleteCollectionNamespacedPod({ namespace: NS, labelSelector: 'burst=bare' });
  for (;;) {
    const left = (await core.listNamespacedPod({ namespace: NS })).items.length;
    const peasLeft = (
      (await custom.listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: NS,
        plural: PLURAL,
      })) as { items: unknown[] }
    ).items.length;
    if (left + peasLeft === 0) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** One burst's figures, for the table. */
interface Result {
  all: number;
  lines: Timeline[];
  nodeCpu: number;
  load: string;
}

async function measure(kind: 'bare' | 'pea', n: number): Promise<Result> {
  const load = loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  const cpu0 = nodeBusySeconds();
  const { lines, all } = await burst(kind, n);
  const nodeCpu = nodeBusySeconds() - cpu0;
  await cleanUp();
  process.stderr.write(`${n} ${kind}: all Ready in ${all.toFixed(0)} ms (load ${load})\n`);
  return { all, lines, nodeCpu, load };
}

/** The steps of a pod's start, each from one timeline mark to the next one the pod has. */
const STEPS: [string, keyof Timeline, keyof Timeline][] = [
  ['create sent → created', 'created', 'created'],
  ['created → pod seen (Peas: the operator)', 'created', 'podSeen'],
  ['pod seen → scheduled', 'podSeen', 'scheduled'],
  ['scheduled → sidecar started', 'scheduled', 'sidecarStarted'],
  ['sidecar started → runtime started', 'sidecarStarted', 'runtimeStarted'],
  ['scheduled → runtime started', 'scheduled', 'runtimeStarted'],
  ['runtime started → pod Ready', 'runtimeStarted', 'ready'],
  ['pod Ready → Pea Ready', 'ready', 'peaReady'],
];

function stepTimes(lines: Timeline[], from: keyof Timeline, to: keyof Timeline): number[] {
  if (from === to) return lines.map((l) => l[from] as number).filter(Number.isFinite);
  return lines
    .filter((l) => l[from] !== undefined && l[to] !== undefined)
    .map((l) => (l[to] as number) - (l[from] as number));
}

const fmt = (x: number, digits = 0): string => (Number.isFinite(x) ? x.toFixed(digits) : '-');
const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

function report(n: number, bare: Result, peas: Result): void {
  const out: string[] = [];
  const row = (what: string, b: string, p: string, ratio = ''): void =>
    void out.push(`${what.padEnd(46)}${b.padStart(14)}${p.padStart(14)}${ratio.padStart(8)}`);
  const ratio = (b: number, p: number): string => (b > 0 && Number.isFinite(p) ? (p / b).toFixed(2) : '-');
  out.push(`\n${n} at once on ${kc.getCurrentCluster()?.server}: bare pods, then Peas (ready: none)`);
  row('measure', 'bare', 'Pea', 'ratio');
  row('all Ready (ms; Peas: the Pea condition)', fmt(bare.all), fmt(peas.all), ratio(bare.all, peas.all));
  row('  target', '', '', '≤ 1.50');
  out.push('where the time went, per pod (ms, first seen on a watch; p50 / max):');
  for (const [what, from, to] of STEPS) {
    const [b, p] = [stepTimes(bare.lines, from, to), stepTimes(peas.lines, from, to)];
    const cell = (xs: number[]): string =>
      xs.length ? `${fmt(percentile(xs, 50))} / ${fmt(Math.max(...xs))}` : '-';
    if (b.length || p.length) row(`  ${what}`, cell(b), cell(p));
  }
  out.push('CPU-seconds per pod, its cgroup (mean / max):');
  for (const [what, key] of [
    ['  up to Ready', 'cpuAtReady'],
    [`  Ready + ${SETTLE_MS / 1000} s after the last`, 'cpuSettled'],
  ] as const) {
    const [b, p] = [bare.lines.map((l) => l[key] as number), peas.lines.map((l) => l[key] as number)];
    const cell = (xs: number[]): string => `${fmt(mean(xs), 3)} / ${fmt(Math.max(...xs), 3)}`;
    row(what, cell(b), cell(p), ratio(mean(b), mean(p)));
  }
  row(
    'node CPU-seconds over the burst (all of it)',
    fmt(bare.nodeCpu, 1),
    fmt(peas.nodeCpu, 1),
    ratio(bare.nodeCpu, peas.nodeCpu),
  );
  row('load average at the start (1, 5, 15 min)', bare.load, peas.load);
  process.stdout.write(`${out.join('\n')}\n`);
}

async function main(): Promise<void> {
  await core.createNamespace({ body: { metadata: { name: NS } } }).catch((e: { code?: number }) => {
    if (e.code !== 409) throw e;
  });
  await cleanUp();
  // One warm-up of each, not counted: the first pod on a fresh node pays for image unpacking.
  await measure('bare', 1);
  await measure('pea', 1);
  for (const n of SIZES) report(n, await measure('bare', n), await measure('pea', n));
  await core.deleteNamespace({ name: NS });
}

await main();

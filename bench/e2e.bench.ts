// `make bench-e2e` (the e2e part of `make bench`), on a real cluster with the operator
// installed (hack/bench-e2e.sh sets that up; KUBECONFIG says which cluster):
//  1. Time from create to Ready: a Pea (create → condition Ready) against the same runtime
//     applied as a bare pod with the same image and the same gRPC readiness probe (create →
//     pod Ready). Pea and bare pod alternate, one at a time, so both see the same node.
//  2. Time from delete to gone for a cooperative runtime: delete the Pea → its pod object
//     is gone; and the bare pod deleted the same way.
//   node dist/bench/e2e.bench.js [--runs 20]
import { parseArgs } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../src/api/v1alpha1/types.js';
import { barePod, peaManifest } from './manifests.js';
import { percentile, printTable } from './stats.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    image: { type: 'string', default: process.env.PEAPODS_IMAGE ?? 'peapods/peapods:dev' },
  },
});
const RUNS = Number(values.runs);
const IMAGE = values.image;
const NS = 'peapods-bench';
const HEALTH_PORT = 50061;

const kc = new k8s.KubeConfig();
kc.loadFromDefault();
const core = kc.makeApiClient(k8s.CoreV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const watch = new k8s.Watch(kc);

type Obj = { metadata?: { name?: string }; status?: { conditions?: { type: string; status: string }[] } };
const isReady = (o: Obj): boolean =>
  o.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** Resolves with the time (performance.now) at which `until` first holds for the named object. */
async function watchUntil(
  path: string,
  name: string,
  until: (type: string, o: Obj) => boolean,
): Promise<{ done: Promise<number>; stop: () => void }> {
  let resolve!: (t: number) => void;
  let reject!: (e: unknown) => void;
  const done = new Promise<number>((res, rej) => ((resolve = res), (reject = rej)));
  const req = await watch.watch(
    path,
    { fieldSelector: `metadata.name=${name}` },
    (type, o: Obj) => {
      if (until(type, o)) resolve(performance.now());
    },
    (err) => (err ? reject(err) : undefined),
  );
  return { done, stop: () => req.abort() };
}

const runtimeCommand = ['node', '/app/dist/examples/sleeper.js'];
const runtimeEnv = [{ name: 'PEA_HEALTH_PORT', value: String(HEALTH_PORT) }];

const peaBody = (name: string): object =>
  peaManifest(name, {
    image: IMAGE,
    command: runtimeCommand,
    env: runtimeEnv,
    ready: { grpc: { port: HEALTH_PORT } },
    timeouts: { readySeconds: 120, cancelSeconds: 10, teardownSeconds: 15 },
  });

/**
 * The bare pod: the same image, runtime and gRPC readiness probe (on the runtime's own port),
 * 1 s period like the Pea pod's.
 */
const bare = (name: string): k8s.V1Pod =>
  barePod(
    name,
    {
      image: IMAGE,
      command: runtimeCommand,
      env: runtimeEnv,
      readinessProbe: { grpc: { port: HEALTH_PORT }, periodSeconds: 1, failureThreshold: 1 },
    },
    { terminationGracePeriodSeconds: 15 },
  );

async function timePea(name: string): Promise<{ ready: number; gone: number }> {
  const w = await watchUntil(`/apis/${GROUP}/${VERSION}/namespaces/${NS}/${PLURAL}`, name, (_t, o) =>
    isReady(o),
  );
  const t0 = performance.now();
  await custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: NS,
    plural: PLURAL,
    body: peaBody(name),
  });
  const ready = (await w.done) - t0;
  w.stop();
  const pod = (
    (await custom.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: NS,
      plural: PLURAL,
      name,
    })) as { status: { podName: string } }
  ).status.podName;
  const g = await watchUntil(`/api/v1/namespaces/${NS}/pods`, pod, (type) => type === 'DELETED');
  const t1 = performance.now();
  await custom.deleteNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: NS,
    plural: PLURAL,
    name,
  });
  const gone = (await g.done) - t1;
  g.stop();
  return { ready, gone };
}

async function timeBare(name: string): Promise<{ ready: number; gone: number }> {
  const w = await watchUntil(`/api/v1/namespaces/${NS}/pods`, name, (_t, o) => isReady(o));
  const t0 = performance.now();
  await core.createNamespacedPod({ namespace: NS, body: bare(name) });
  const ready = (await w.done) - t0;
  w.stop();
  const g = await watchUntil(`/api/v1/namespaces/${NS}/pods`, name, (type) => type === 'DELETED');
  const t1 = performance.now();
  await core.deleteNamespacedPod({ namespace: NS, name });
  const gone = (await g.done) - t1;
  g.stop();
  return { ready, gone };
}

async function main(): Promise<void> {
  await core.createNamespace({ body: { metadata: { name: NS } } }).catch((e: { code?: number }) => {
    if (e.code !== 409) throw e;
  });
  const pea: { ready: number; gone: number }[] = [];
  const bare: { ready: number; gone: number }[] = [];
  // One warm-up of each, not counted: the first pod on a fresh node pays for image unpacking.
  await timeBare('bare-warmup');
  await timePea('pea-warmup');
  for (let i = 0; i < RUNS; i++) {
    bare.push(await timeBare(`bare-${i}`));
    pea.push(await timePea(`pea-${i}`));
    process.stderr.write(
      `run ${i + 1}/${RUNS}: bare ready ${bare[i]!.ready.toFixed(0)} ms, Pea ready ${pea[i]!.ready.toFixed(0)} ms\n`,
    );
  }
  const p = (xs: { ready: number; gone: number }[], k: 'ready' | 'gone', q: number): number =>
    percentile(
      xs.map((x) => x[k]),
      q,
    );
  printTable(`e2e on ${kc.getCurrentCluster()?.server} (${RUNS} runs each, one at a time)`, [
    {
      what: 'create → Ready p50',
      baseline: p(bare, 'ready', 50),
      ours: p(pea, 'ready', 50),
      unit: 'ms',
      target: `overhead ≤ 500 ms (here ${(p(pea, 'ready', 50) - p(bare, 'ready', 50)).toFixed(0)} ms)`,
    },
    { what: 'create → Ready p99', baseline: p(bare, 'ready', 99), ours: p(pea, 'ready', 99), unit: 'ms' },
    {
      what: 'delete → pod gone p50',
      baseline: p(bare, 'gone', 50),
      ours: p(pea, 'gone', 50),
      unit: 'ms',
      target: '≤ 3000 ms',
    },
    { what: 'delete → pod gone p99', baseline: p(bare, 'gone', 99), ours: p(pea, 'gone', 99), unit: 'ms' },
  ]);
  await core.deleteNamespace({ name: NS });
}

await main();

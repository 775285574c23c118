// `make bench-peaset`, on a real cluster with the operator installed (hack/bench-e2e.sh sets
// that up; KUBECONFIG says which cluster). A PeaSet against a Deployment of the same pods (same
// image, runtime and 1 s gRPC readiness probe, the same maxSurge 1 / maxUnavailable 0 as the
// PeaSet's defaults), one after the other on the same cluster:
//  1. scale 0 → N (20): from the scale request until N members (pods) are available;
//  2. a rolling update of M (10): from the template change until all M are updated and
//     available, with the PeaSet's drainSeconds at 0 (what Peapods adds) and at its default
//     (what a user gets: each old member stays in the Service that long after it left it).
//   node dist/bench/peaset.bench.js [--scale 20] [--roll 10]
import { parseArgs } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { PEASET_DEFAULTS, PEASET_PLURAL } from '../src/api/v1alpha1/peaset.js';
import { GROUP, VERSION } from '../src/api/v1alpha1/types.js';
import { LABEL_PEASET } from '../src/operator/peaset/members.js';
import { printTable } from './stats.js';

const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: '20' },
    roll: { type: 'string', default: '10' },
    image: { type: 'string', default: process.env.PEAPODS_IMAGE ?? 'peapods/peapods:dev' },
  },
});
const SCALE = Number(values.scale);
const ROLL = Number(values.roll);
const IMAGE = values.image;
const NS = 'peapods-bench-set';
const HEALTH_PORT = 50061;
const LIMIT_MS = 900_000;

const kc = new k8s.KubeConfig();
kc.loadFromDefault();
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);

const command = ['node', '/app/dist/examples/sleeper.js'];
const env = (rev: string) => [
  { name: 'PEA_HEALTH_PORT', value: String(HEALTH_PORT) },
  { name: 'REVISION', value: rev },
];
const restricted = { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };

/** The set's status fields both kinds share, as the benchmark reads them. */
interface Rollout {
  generation: number;
  observed?: number;
  replicas?: number;
  updated?: number;
  available?: number;
}

/** Both kinds behind one interface: create, scale, change the template, read the rollout. */
interface Workload {
  name: string;
  /** Selects the workload's pods, terminating ones included. */
  selector: string;
  create(replicas: number, rev: string): Promise<unknown>;
  scale(replicas: number): Promise<unknown>;
  roll(rev: string): Promise<unknown>;
  read(): Promise<Rollout>;
  remove(): Promise<unknown>;
}

function peaSet(drainSeconds: number): Workload {
  const name = `set-drain-${drainSeconds}`;
  const ref = { group: GROUP, version: VERSION, namespace: NS, plural: PEASET_PLURAL, name };
  const spec = (replicas: number, rev: string) => ({
    replicas,
    drainSeconds,
    service: { ports: [{ port: 80, targetPort: HEALTH_PORT }] },
    template: {
      spec: {
        image: IMAGE,
        command,
        env: env(rev),
        ready: { grpc: { port: HEALTH_PORT } },
        timeouts: { readySeconds: 300, cancelSeconds: 10, teardownSeconds: 15 },
      },
    },
  });
  const patch = (body: object) =>
    custom.patchNamespacedCustomObject(
      { ...ref, body },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  return {
    name: `PeaSet (drainSeconds ${drainSeconds})`,
    selector: `${LABEL_PEASET}=${name}`,
    create: (replicas, rev) =>
      custom.createNamespacedCustomObject({
        ...ref,
        body: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'PeaSet',
          metadata: { name },
          spec: spec(replicas, rev),
        },
      }),
    scale: (replicas) => patch({ spec: { replicas } }),
    roll: (rev) => patch({ spec: { template: spec(0, rev).template } }),
    read: async () => {
      const s = (await custom.getNamespacedCustomObject(ref)) as {
        metadata: { generation: number };
        status?: Record<string, number>;
      };
      return {
        generation: s.metadata.generation,
        observed: s.status?.observedGeneration,
        replicas: s.status?.replicas,
        updated: s.status?.updatedReplicas,
        available: s.status?.availableReplicas,
      };
    },
    remove: () => custom.deleteNamespacedCustomObject(ref),
  };
}

function deployment(): Workload {
  const name = 'deploy';
  const labels = { app: 'bench-deploy' };
  const template = (rev: string): k8s.V1PodTemplateSpec => ({
    metadata: { labels },
    spec: {
      securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
      terminationGracePeriodSeconds: 15,
      containers: [
        {
          name: 'runtime',
          image: IMAGE,
          imagePullPolicy: 'IfNotPresent',
          command,
          env: env(rev),
          readinessProbe: { grpc: { port: HEALTH_PORT }, periodSeconds: 1, failureThreshold: 1 },
          securityContext: restricted,
        },
      ],
    },
  });
  const patch = (body: object) =>
    apps.patchNamespacedDeployment(
      { name, namespace: NS, body },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  return {
    name: 'Deployment (maxSurge 1, maxUnavailable 0)',
    selector: 'app=bench-deploy',
    create: async (replicas, rev) => {
      await core.createNamespacedService({
        namespace: NS,
        body: {
          metadata: { name },
          spec: { selector: labels, ports: [{ port: 80, targetPort: HEALTH_PORT }] },
        },
      });
      return apps.createNamespacedDeployment({
        namespace: NS,
        body: {
          metadata: { name },
          spec: {
            replicas,
            selector: { matchLabels: labels },
            strategy: {
              type: 'RollingUpdate',
              rollingUpdate: { maxSurge: PEASET_DEFAULTS.maxSurge, maxUnavailable: 0 },
            },
            template: template(rev),
          },
        },
      });
    },
    scale: (replicas) => patch({ spec: { replicas } }),
    roll: (rev) => patch({ spec: { template: template(rev) } }),
    read: async () => {
      const d = await apps.readNamespacedDeployment({ name, namespace: NS });
      const s = d.status ?? {};
      return {
        generation: d.metadata!.generation!,
        observed: s.observedGeneration,
        replicas: s.replicas ?? 0,
        updated: s.updatedReplicas ?? 0,
        available: s.availableReplicas ?? 0,
      };
    },
    remove: async () => {
      await apps.deleteNamespacedDeployment({ name, namespace: NS });
      await core.deleteNamespacedService({ name, namespace: NS });
    },
  };
}

/**
 * Resolves when `w` has exactly `n` members, all updated and available, at its generation, and
 * exactly `n` pods: an old pod still stopping counts for both kinds (their status does not).
 */
async function settled(w: Workload, n: number): Promise<void> {
  const end = Date.now() + LIMIT_MS;
  for (;;) {
    const r = await w.read();
    const pods = async () =>
      (await core.listNamespacedPod({ namespace: NS, labelSelector: w.selector })).items.length;
    const done = r.observed === r.generation && r.replicas === n && r.updated === n && r.available === n;
    if (done && (await pods()) === n) return;
    if (Date.now() > end) throw new Error(`${w.name} did not settle at ${n}: ${JSON.stringify(r)}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

/** How long `step` takes until `w` is settled at `n`, in ms. */
async function timed(w: Workload, n: number, step: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await step();
  await settled(w, n);
  return performance.now() - t0;
}

/** Scale 0 → SCALE, then down to ROLL and a rolling update of ROLL; the two times in ms. */
async function run(w: Workload): Promise<{ scale: number; roll: number }> {
  await w.create(0, '1');
  await settled(w, 0);
  const scale = await timed(w, SCALE, () => w.scale(SCALE));
  await w.scale(ROLL);
  await settled(w, ROLL);
  const roll = await timed(w, ROLL, () => w.roll('2'));
  process.stderr.write(
    `${w.name}: scale 0→${SCALE} ${scale.toFixed(0)} ms, roll ${ROLL} ${roll.toFixed(0)} ms\n`,
  );
  await w.remove();
  return { scale, roll };
}

/** Until the namespace has no pods left: each run starts on an idle node. */
async function drained(): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if ((await core.listNamespacedPod({ namespace: NS })).items.length === 0) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`pods in ${NS} did not go within 5 min`);
}

async function main(): Promise<void> {
  await core.createNamespace({ body: { metadata: { name: NS } } }).catch((e: { code?: number }) => {
    if (e.code !== 409) throw e;
  });
  const deploy = await run(deployment());
  await drained();
  const fast = await run(peaSet(0));
  await drained();
  const usual = await run(peaSet(PEASET_DEFAULTS.drainSeconds));
  await drained();
  const d = PEASET_DEFAULTS.drainSeconds;
  printTable(
    `PeaSet against a Deployment of the same pods on ${kc.getCurrentCluster()?.server} (one run each)`,
    [
      { what: `scale 0 → ${SCALE}, all available`, baseline: deploy.scale, ours: fast.scale, unit: 'ms' },
      {
        what: `rolling update of ${ROLL}, drainSeconds 0`,
        baseline: deploy.roll,
        ours: fast.roll,
        unit: 'ms',
      },
      {
        what: `rolling update of ${ROLL}, drainSeconds ${d}`,
        baseline: deploy.roll,
        ours: usual.roll,
        unit: 'ms',
        target: `includes ${ROLL} × ${d} s of drain by design`,
      },
      {
        what: `scale 0 → ${SCALE}, drainSeconds ${d} (same)`,
        baseline: deploy.scale,
        ours: usual.scale,
        unit: 'ms',
      },
    ],
  );
  await core.deleteNamespace({ name: NS });
}

await main();

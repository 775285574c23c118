// PeaSets against a real kube-apiserver and etcd, with the operator as a process holding the
// RBAC it ships, and kube-controller-manager running the real EndpointSlice and
// HorizontalPodAutoscaler controllers. No kubelet: the test plays it, marking each member's
// pod Running and Ready with an address of its own, so that the EndpointSlice controller lists
// it behind the PeaSet's Service.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { PEASET_PLURAL, type PeaSet, type PeaSetSpec } from '../../src/api/v1alpha1/peaset.js';
import { GROUP, PLURAL, VERSION, type Pea } from '../../src/api/v1alpha1/types.js';
import { startControllerManager } from '../harness/controller-manager.js';
import { memberKubelet } from '../harness/member-kubelet.js';
import { operatorSuite } from '../harness/suites.js';
import { freePort, ROOT, tempDir, until } from '../helpers/processes.js';
import { startSidecar } from '../helpers/sidecar.js';
import { peaToken } from '../../src/operator/token.js';
import { networkInterfaces } from 'node:os';
import { writeFileSync } from 'node:fs';

const NS = 'peasets';
const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
/** The operator's control-token key, as the chart mounts it: the test derives a member's token. */
const tokenKey = Buffer.from('integration-test-key-0123456789ab');
let sidecarPort: number;
const s = operatorSuite(NS, {
  // The test's kubelet gives pods addresses in 10.244/16 (EndpointSlices refuse loopback) where
  // nothing answers: Cancel fails, and the pod is deleted after cancelSeconds. One test gives a
  // pod this machine's own address instead, where a real sidecar listens.
  args: async () => {
    sidecarPort = await freePort();
    const keyFile = join(tempDir(), 'token-key');
    writeFileSync(keyFile, tokenKey);
    return ['--sidecar-grpc-port', String(sidecarPort), '--token-key-file', keyFile];
  },
});
/** Pod name → the address the test's kubelet gives it, and its preStop hook. */
const podIps = new Map<string, string>();
const preStops = new Map<string, () => Promise<unknown>>();

let custom: k8s.CustomObjectsApi;
let core: k8s.CoreV1Api;
let discovery: k8s.DiscoveryV1Api;
let stopKubelet: () => Promise<void>;

const NODE = 'fake-node';

beforeAll(async () => {
  custom = s.api.admin.makeApiClient(k8s.CustomObjectsApi);
  core = s.api.admin.makeApiClient(k8s.CoreV1Api);
  discovery = s.api.admin.makeApiClient(k8s.DiscoveryV1Api);
  await core.createNode({ body: { metadata: { name: NODE } } });
  await startControllerManager(s.api, ['endpointslice', 'horizontalpodautoscaling']);
  stopKubelet = memberKubelet(core, {
    namespace: NS,
    node: NODE,
    ip: (n) => `10.244.${Math.floor(n / 250)}.${(n % 250) + 2}`,
    ipOf: (pod) => podIps.get(pod),
    preStop: (pod) => preStops.get(pod)?.(),
  });
}, 120_000);
afterAll(async () => stopKubelet?.());

const where = { group: GROUP, version: VERSION, namespace: NS };

function createPeaSet(name: string, spec: Partial<PeaSetSpec> = {}): Promise<PeaSet> {
  const body = {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'PeaSet',
    metadata: { name },
    spec: {
      replicas: 3,
      drainSeconds: 0,
      service: { ports: [{ port: 8080 }] },
      template: { spec: { image: 'example/runtime:1', timeouts: { cancelSeconds: 1 } } },
      ...spec,
    },
  };
  return custom.createNamespacedCustomObject({ ...where, plural: PEASET_PLURAL, body }) as Promise<PeaSet>;
}

const getPeaSet = (name: string): Promise<PeaSet> =>
  custom.getNamespacedCustomObject({ ...where, plural: PEASET_PLURAL, name }) as Promise<PeaSet>;

const patchPeaSet = (name: string, body: object): Promise<unknown> =>
  custom.patchNamespacedCustomObject({ ...where, plural: PEASET_PLURAL, name, body }, MERGE);

async function members(set: string): Promise<Pea[]> {
  const list = (await custom.listNamespacedCustomObject({
    ...where,
    plural: PLURAL,
    labelSelector: `peapods.io/peaset=${set}`,
  })) as { items: Pea[] };
  return list.items.sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1));
}

const names = (peas: Pea[]): string[] => peas.map((p) => p.metadata.name as string);
const isReady = (p: Pea): boolean =>
  !p.metadata.deletionTimestamp &&
  (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
const condition = (set: PeaSet, type: string) => set.status?.conditions?.find((c) => c.type === type);

async function peaSetUntil(name: string, what: string, ok: (p: PeaSet) => boolean, ms = 60_000) {
  let last: PeaSet | undefined;
  try {
    return await until(
      what,
      async () => {
        last = await getPeaSet(name);
        return ok(last) ? last : undefined;
      },
      ms,
    );
  } catch (err) {
    throw new Error(`${String(err)}; last status: ${JSON.stringify(last?.status)}`);
  }
}

const settled = (replicas: number) => (p: PeaSet) =>
  p.status?.observedGeneration === p.metadata.generation &&
  p.status?.availableReplicas === replicas &&
  p.status?.replicas === replicas &&
  condition(p, 'Progressing')?.reason === 'RolloutComplete';

/** The pod names the Service's EndpointSlices list as ready or serving. */
async function listed(service: string): Promise<string[]> {
  const slices = await discovery.listNamespacedEndpointSlice({
    namespace: NS,
    labelSelector: `kubernetes.io/service-name=${service}`,
  });
  return slices.items
    .flatMap((sl) => sl.endpoints ?? [])
    .filter((e) => (e.conditions?.ready ?? true) || e.conditions?.serving)
    .map((e) => e.targetRef?.name as string)
    .sort();
}

function kubectl(...args: string[]): string {
  const bin = execFileSync(join(ROOT, 'hack/k8s-binaries.sh'), ['kubectl'], { encoding: 'utf8' }).trim();
  return execFileSync(join(bin, 'kubectl'), ['--kubeconfig', s.api.adminKubeconfigFile, '-n', NS, ...args], {
    encoding: 'utf8',
  });
}

/** Samples the members while `during` runs: the most that existed, the fewest Ready. */
async function sampled(
  set: string,
  during: () => Promise<unknown>,
): Promise<{ most: number; fewestReady: number }> {
  let most = 0;
  let fewestReady = Number.MAX_SAFE_INTEGER;
  let on = true;
  const loop = (async () => {
    while (on) {
      const m = await members(set);
      most = Math.max(most, m.length);
      fewestReady = Math.min(fewestReady, m.filter(isReady).length);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    await during();
  } finally {
    on = false;
    await loop;
  }
  return { most, fewestReady };
}

describe('a PeaSet', () => {
  it('runs replicas as members NAME-0…, behind its Service and budget, and scales by kubectl scale', async () => {
    const created = await createPeaSet('web');
    const ready = await peaSetUntil('web', '3 available', settled(3));
    expect(condition(ready, 'Available')).toMatchObject({
      status: 'True',
      reason: 'MinimumReplicasAvailable',
    });
    expect(ready.status).toMatchObject({
      readyReplicas: 3,
      updatedReplicas: 3,
      selector: 'peapods.io/peaset=web',
    });
    const m = await members('web');
    expect(names(m)).toEqual(['web-0', 'web-1', 'web-2']);
    expect(m[1]!.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'PeaSet', uid: created.metadata.uid });
    expect(m[1]!.spec.env).toContainEqual({ name: 'PEASET_INDEX', value: '1' });
    const svc = await core.readNamespacedService({ namespace: NS, name: 'web' });
    expect(svc.spec?.selector).toEqual({ 'peapods.io/peaset': 'web', 'peapods.io/serving': 'true' });
    const pdb = await s.api.admin
      .makeApiClient(k8s.PolicyV1Api)
      .readNamespacedPodDisruptionBudget({ namespace: NS, name: 'web' });
    // replicas 3 − disruption.maxUnavailable 1: a count the disruption controller needs no scale for.
    expect(pdb.spec).toMatchObject({
      minAvailable: 2,
      selector: { matchLabels: { 'peapods.io/peaset': 'web' } },
    });
    expect(pdb.spec?.maxUnavailable).toBeUndefined();
    // The real EndpointSlice controller lists every member's pod behind the Service.
    await until('3 endpoints', async () => (await listed('web')).length === 3, 30_000);

    expect(kubectl('scale', 'peaset/web', '--replicas=1')).toContain('scaled');
    await peaSetUntil('web', '1 available', settled(1));
    expect(names(await members('web'))).toEqual(['web-0']);
    expect(await listed('web')).toEqual(['web-0-pea']);
    const scale = JSON.parse(
      kubectl('get', '--raw', `/apis/peapods.io/v1alpha1/namespaces/${NS}/peasets/web/scale`),
    );
    expect(scale).toMatchObject({
      spec: { replicas: 1 },
      status: { replicas: 1, selector: 'peapods.io/peaset=web' },
    });
  });

  it('drains a member before it stops: out of the Service, cancelled only once no EndpointSlice lists it', async () => {
    await createPeaSet('drain', { drainSeconds: 2 });
    await peaSetUntil('drain', '3 available', settled(3));
    // A second slice for the Service (as a mirror or another controller would keep) listing
    // drain-2 as ready: the drain must wait for it too.
    await discovery.createNamespacedEndpointSlice({
      namespace: NS,
      body: {
        metadata: {
          name: 'drain-extra',
          labels: {
            'kubernetes.io/service-name': 'drain',
            'app.kubernetes.io/managed-by': 'peapods',
            'peapods.io/peaset': 'drain',
            'endpointslice.kubernetes.io/managed-by': 'test',
          },
        },
        addressType: 'IPv4',
        endpoints: [
          {
            addresses: ['10.245.9.9'],
            conditions: { ready: true },
            targetRef: { kind: 'Pod', name: 'drain-2-pea' },
          },
        ],
      },
    });
    await patchPeaSet('drain', { spec: { replicas: 2 } });
    // Step 1: its pod leaves the Service, and the EndpointSlice controller drops it.
    await until(
      'drain-2 out of the Service',
      async () => {
        const pod = await core.readNamespacedPod({ namespace: NS, name: 'drain-2-pea' });
        return pod.metadata?.labels?.['peapods.io/serving'] === undefined;
      },
      30_000,
    );
    await until('the controller dropped drain-2', async () => (await listed('drain')).length === 3, 30_000);
    // Step 2: still listed by the other slice, so it is neither marked drained nor cancelled.
    await new Promise((r) => setTimeout(r, 1500));
    const held = (await members('drain')).find((p) => p.metadata.name === 'drain-2')!;
    expect(held.metadata.deletionTimestamp).toBeDefined();
    expect(held.metadata.annotations?.['peapods.io/drained']).toBeUndefined();
    expect(held.status?.cancelTime).toBeUndefined();
    expect(held.status?.phase).toBe('Ready');
    await discovery.deleteNamespacedEndpointSlice({ namespace: NS, name: 'drain-extra' });
    // Steps 3 and 4: drainSeconds after the mark, the Pea controller cancels it.
    const cancelled = await until(
      'drain-2 cancelled',
      async () => (await members('drain')).find((p) => p.metadata.name === 'drain-2' && p.status?.cancelTime),
      30_000,
    );
    const drained = Date.parse(cancelled.metadata.annotations?.['peapods.io/drained'] ?? '');
    expect(Date.parse(cancelled.status!.cancelTime!) - drained).toBeGreaterThanOrEqual(1900);
    await peaSetUntil('drain', '2 available', settled(2));
    expect(names(await members('drain'))).toEqual(['drain-0', 'drain-1']);
  });

  it('rolls a template change by Surge: at most replicas + maxSurge, never fewer Ready than replicas', async () => {
    await createPeaSet('surge', { updateStrategy: { type: 'Surge', maxSurge: 1, maxUnavailable: 0 } });
    const before = await peaSetUntil('surge', '3 available', settled(3));
    const seen = await sampled('surge', async () => {
      await patchPeaSet('surge', { spec: { template: { spec: { image: 'example/runtime:2' } } } });
      await peaSetUntil(
        'surge',
        'rolled',
        (p) => settled(3)(p) && p.status?.updateRevision !== before.status?.updateRevision,
        90_000,
      );
    });
    expect(seen.most).toBeLessThanOrEqual(4);
    expect(seen.fewestReady).toBeGreaterThanOrEqual(3);
    const after = await members('surge');
    expect(names(after)).toEqual(['surge-0', 'surge-1', 'surge-2']);
    expect(after.map((p) => p.spec.image)).toEqual(Array(3).fill('example/runtime:2'));
  });

  it('rolls a template change by Replace: no extra member, one ordinal at a time', async () => {
    await createPeaSet('replace', { updateStrategy: { type: 'Replace' } });
    const before = await peaSetUntil('replace', '3 available', settled(3));
    const seen = await sampled('replace', async () => {
      await patchPeaSet('replace', { spec: { template: { spec: { image: 'example/runtime:2' } } } });
      await peaSetUntil(
        'replace',
        'rolled',
        (p) => settled(3)(p) && p.status?.updateRevision !== before.status?.updateRevision,
        90_000,
      );
    });
    expect(seen.most).toBeLessThanOrEqual(3);
    expect(seen.fewestReady).toBeGreaterThanOrEqual(2);
    expect(names(await members('replace'))).toEqual(['replace-0', 'replace-1', 'replace-2']);
  });

  it('drains a member someone deletes, then starts it again under the same name', async () => {
    await createPeaSet('own', { replicas: 2 });
    await peaSetUntil('own', '2 available', settled(2));
    const old = (await members('own'))[1]!;
    await custom.deleteNamespacedCustomObject({ ...where, plural: PLURAL, name: 'own-1' });
    const next = await until(
      'a new own-1',
      async () =>
        (await members('own')).find(
          (p) => p.metadata.name === 'own-1' && p.metadata.uid !== old.metadata.uid,
        ),
      30_000,
    );
    expect(next.metadata.labels?.['peapods.io/ordinal']).toBe('1');
    await peaSetUntil('own', '2 available', settled(2));
  });

  it("drains a member's deleted pod (as an eviction): preStop holds NOT_SERVING until the drain's Cancel", async () => {
    // This machine's own address, where the member's real sidecar listens on the operator's port.
    const hostIp = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)!.address;
    podIps.set('evict-1-pea', hostIp);
    await createPeaSet('evict', { replicas: 2, drainSeconds: 2 });
    await peaSetUntil('evict', '2 available', settled(2));
    const member = (await members('evict'))[1]!;
    const sidecar = await startSidecar({
      runtime: ['sleep', '600'],
      grpcPort: sidecarPort,
      token: peaToken(tokenKey, member),
      // All addresses: the operator dials the pod's (this machine's), the test loopback.
      flags: ['--prestop-hold-seconds', '40', '--host', '0.0.0.0'],
    });
    try {
      await until('sidecar serving', () => sidecar.health.isServing('', 500), 30_000);
      let hookAnswered = 0;
      preStops.set('evict-1-pea', () => sidecar.http('/prestop').then(() => (hookAnswered = Date.now())));
      await core.deleteNamespacedPod({ namespace: NS, name: 'evict-1-pea' });
      // The hook holds: NOT_SERVING at once, the runtime still running, not cancelled.
      await until('NOT_SERVING', async () => (await sidecar.health.check('', 500)) === 'NOT_SERVING', 30_000);
      expect((await sidecar.status()).phase).toBe('PHASE_READY');
      // The operator takes the pod out of the Service, waits for the EndpointSlices, marks it.
      const marked = await until(
        'the pod marked drained',
        async () => {
          const pod = await core.readNamespacedPod({ namespace: NS, name: 'evict-1-pea' });
          const at = pod.metadata?.annotations?.['peapods.io/drained'];
          return at && pod.metadata?.labels?.['peapods.io/serving'] === undefined
            ? Date.parse(at)
            : undefined;
        },
        30_000,
      );
      expect(await listed('evict')).toEqual(['evict-0-pea']);
      const events = await core.listNamespacedEvent({
        namespace: NS,
        fieldSelector: 'involvedObject.name=evict',
      });
      expect(events.items.map((e) => e.reason)).not.toContain('DrainTimeout');
      // drainSeconds after the mark, its Cancel ends the hold: the runtime stops, the hook answers.
      expect(await sidecar.exited).toBe(0);
      const cancelled = sidecar.logLines().find((l) => l.msg === 'cancelling');
      // The operator's Cancel (its reason), not the hold running out, drainSeconds after the mark.
      expect(cancelled?.reason).toBe('pod deleted, drained');
      expect(Date.parse(cancelled?.time as string)).toBeGreaterThanOrEqual(marked + 2000 - 50);
      await until('the hook answered', () => hookAnswered, 30_000);
      // The member starts a new pod (restartPolicy Always) and the PeaSet is whole again.
      await peaSetUntil('evict', '2 available again', settled(2), 90_000);
      expect((await members('evict'))[1]!.metadata.uid).toBe(member.metadata.uid);
    } finally {
      await sidecar.close();
    }
  });

  it('drains every member when deleted, then goes', async () => {
    await createPeaSet('gone');
    await peaSetUntil('gone', '3 available', settled(3));
    await custom.deleteNamespacedCustomObject({ ...where, plural: PEASET_PLURAL, name: 'gone' });
    await until('members gone', async () => (await members('gone')).length === 0, 60_000);
    await until(
      'PeaSet gone',
      async () => {
        try {
          await getPeaSet('gone');
          return false;
        } catch (err) {
          return (err as { code?: number }).code === 404;
        }
      },
      30_000,
    );
  });

  it('is scaled by an autoscaling/v2 HorizontalPodAutoscaler through /scale', async () => {
    await createPeaSet('auto', { replicas: 1 });
    await peaSetUntil('auto', '1 available', settled(1));
    await s.api.admin.makeApiClient(k8s.AutoscalingV2Api).createNamespacedHorizontalPodAutoscaler({
      namespace: NS,
      body: {
        metadata: { name: 'auto' },
        spec: {
          scaleTargetRef: { apiVersion: `${GROUP}/${VERSION}`, kind: 'PeaSet', name: 'auto' },
          // Below minReplicas the HPA controller scales up without needing any metric.
          minReplicas: 3,
          maxReplicas: 5,
          metrics: [
            {
              type: 'Resource',
              resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } },
            },
          ],
        },
      },
    });
    const scaled = await peaSetUntil('auto', 'scaled to 3 by the HPA', (p) => p.spec.replicas === 3, 60_000);
    expect(scaled.spec.replicas).toBe(3);
    await peaSetUntil('auto', '3 available', settled(3));
    expect(names(await members('auto'))).toEqual(['auto-0', 'auto-1', 'auto-2']);
  });
});

describe('PeaSet validation in the API server', () => {
  async function rejection(
    spec: object,
    name = `bad-${Math.random().toString(36).slice(2, 8)}`,
  ): Promise<string> {
    try {
      await createPeaSet(name, spec);
    } catch (err) {
      const e = err as { code?: number; body?: unknown };
      expect(e.code).toBe(422);
      return typeof e.body === 'string' ? e.body : JSON.stringify(e.body);
    }
    throw new Error('the API server accepted an invalid PeaSet');
  }

  it.each([
    ['negative replicas', { replicas: -1 }, 'spec.replicas'],
    ['an empty image', { template: { spec: { image: '' } } }, 'spec.template.spec.image'],
    [
      'two ready kinds',
      { template: { spec: { image: 'x', ready: { grpc: { port: 1 }, tcp: { port: 2 } } } } },
      'spec.ready: set only one',
    ],
    [
      'cancel in the template',
      { template: { spec: { image: 'x', cancel: true } } },
      'spec.template.spec.cancel',
    ],
    ['an unknown strategy', { updateStrategy: { type: 'Recreate' } }, 'spec.updateStrategy.type'],
    [
      'maxSurge with Replace',
      { updateStrategy: { type: 'Replace', maxSurge: 1 } },
      'spec.updateStrategy.maxSurge',
    ],
    [
      'no room to update',
      { updateStrategy: { maxSurge: 0, maxUnavailable: 0 } },
      'spec.updateStrategy.maxUnavailable',
    ],
    ['a Service without ports', { service: { ports: [] } }, 'spec.service.ports'],
    [
      'unnamed ports',
      { service: { ports: [{ port: 1 }, { port: 2 }] } },
      'spec.service.ports: name every port',
    ],
    ['a negative drain', { drainSeconds: -1 }, 'spec.drainSeconds'],
  ])('rejects %s, naming the field', async (_what, spec, field) => {
    expect(await rejection(spec)).toContain(field);
  });

  it('rejects a name too long for its members', async () => {
    expect(await rejection({}, 'x'.repeat(46))).toContain('metadata.name must be at most 45 characters');
  });

  it('takes a template change that a Pea would refuse (its members roll instead)', async () => {
    await createPeaSet('mutable', { replicas: 0 });
    await patchPeaSet('mutable', {
      spec: { template: { spec: { image: 'example/runtime:9', args: ['a'] } } },
    });
    expect((await getPeaSet('mutable')).spec.template.spec.image).toBe('example/runtime:9');
  });
});

// The operator keeps working when the world misbehaves: the API server goes away and comes
// back (every watch breaks; client-node's informer would stop for good), and objects that an
// older, laxer CRD or a hand edit let through. Real kube-apiserver and etcd, the operator as
// a process with the RBAC it ships; no kubelet runs, the test writes pod status in its place.
import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CRD_FILE } from '../../src/api/v1alpha1/crd.js';
import { resilientInformer } from '../../src/operator/informer.js';
import { createLogger } from '../../src/shared/logger.js';
import { GROUP, PLURAL, VERSION, type Pea } from '../../src/api/v1alpha1/types.js';
import { sendRaw } from '../harness/apiserver.js';
import { TestCluster } from '../harness/cluster.js';
import { operatorSuite } from '../harness/suites.js';
import { ROOT, until } from '../helpers/processes.js';

const CRD_PATH = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${PLURAL}.${GROUP}`;
const MERGE_PATCH = 'application/merge-patch+json';
const s = operatorSuite('resilience');
const warned = (msg: string, informer: string): boolean =>
  s.operator.logLines().some((l) => l.msg === msg && l.informer === informer);

/** Any object the API server accepts as a Pea (no schema): stands in for an older CRD. */
async function laxCrd(): Promise<void> {
  const anything = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  const generated = parseYaml(readFileSync(join(ROOT, CRD_FILE), 'utf8')) as {
    spec: { versions: Array<Record<string, unknown>> };
  };
  const versions = generated.spec.versions.map((v) => ({ ...v, schema: { openAPIV3Schema: anything } }));
  await sendRaw(s.api.admin, 'PATCH', CRD_PATH, { spec: { versions } }, MERGE_PATCH);
  // The new schema reaches the API server's handlers a moment later.
  await until('the lax schema in force', () =>
    s.cluster.createPea(`probe-${Date.now()}`, { image: 42 } as never).then(
      () => true,
      () => false,
    ),
  );
}

async function generatedCrd(): Promise<void> {
  const generated = parseYaml(readFileSync(join(ROOT, CRD_FILE), 'utf8')) as { spec: object };
  await sendRaw(s.api.admin, 'PATCH', CRD_PATH, { spec: generated.spec }, MERGE_PATCH);
}

describe('when the API server restarts', () => {
  it('restarts its informers with backoff and carries on where it left off', async () => {
    await s.cluster.createPea('before');
    const pod = await s.cluster.podOf('before');
    await s.cluster.peaUntil('before', 'Starting', (p) => p.status?.phase === 'Starting');

    await s.api.restart(() =>
      until(
        'both informers to notice',
        () =>
          warned('list or watch failed; restarting it', 'peas') &&
          warned('list or watch failed; restarting it', 'pods'),
        20_000,
      ),
    );

    // Both caches are live again: a pod status change and a new Pea are both acted on.
    await s.cluster.kubeletRunning(pod, true);
    await s.cluster.peaUntil('before', 'Ready', (p) => p.status?.phase === 'Ready', 40_000);
    await s.cluster.createPea('after');
    await s.cluster.podOf('after');
    await s.cluster.peaUntil('after', 'Starting', (p) => p.status?.phase === 'Starting');
    expect(await s.cluster.podsOf('before')).toHaveLength(1);
  }, 90_000);
});

describe('the informer', () => {
  it('lists page by page with the RBAC the operator ships, and is synced once the watch is open', async () => {
    const other = new TestCluster(s.api, 'paged');
    await other.createNamespace();
    for (const n of ['a', 'b', 'c', 'd', 'e']) await other.createPea(n);
    const custom = s.api.operator.makeApiClient(k8s.CustomObjectsApi);
    const seen: string[] = [];
    const informer = resilientInformer<Pea & k8s.KubernetesObject>({
      name: 'peas',
      kc: s.api.operator,
      resyncMs: 60_000,
      log: createLogger('test', 'warn'),
      pageSize: 2,
      path: `/apis/${GROUP}/${VERSION}/namespaces/paged/${PLURAL}`,
      list: (page) =>
        custom.listNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: 'paged',
          plural: PLURAL,
          ...page,
        }) as Promise<k8s.KubernetesListObject<Pea & k8s.KubernetesObject>>,
      onChange: (p) => void seen.push(p.metadata?.name as string),
    });
    informer.start();
    try {
      await until('synced', () => informer.synced);
      expect(
        informer
          .list()
          .map((p) => p.metadata.name)
          .sort(),
      ).toEqual(['a', 'b', 'c', 'd', 'e']);
      await other.createPea('f');
      await until('the watch to bring f', () => seen.includes('f'));
    } finally {
      informer.stop();
    }
  });
});

describe('malformed objects (an older CRD, a hand edit)', () => {
  beforeAll(laxCrd, 30_000);
  afterAll(generatedCrd, 30_000);

  it.each([
    ['an image that is not a string', { image: 42 }, 'spec.image'],
    [
      'a negative timeout',
      { image: 'example/runtime:1', timeouts: { readySeconds: -5 } },
      'spec.timeouts.readySeconds',
    ],
    [
      'a timeout that is not a number',
      { image: 'example/runtime:1', timeouts: { cancelSeconds: 'soon' } },
      'spec.timeouts.cancelSeconds',
    ],
  ])('reports %s on the Pea, naming the field', async (_what, spec, field) => {
    const name = `bad-${field.split('.').pop()!.toLowerCase()}-${typeof (spec as { image: unknown }).image}`;
    await s.cluster.custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: s.cluster.namespace,
      plural: PLURAL,
      body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'Pea', metadata: { name }, spec },
    });
    const failed = await s.cluster.peaUntil(name, 'Failed', (p) => p.status?.phase === 'Failed');
    expect(failed.status).toMatchObject({ reason: 'InvalidSpec', message: expect.stringContaining(field) });
    expect(await s.cluster.podsOf(name)).toHaveLength(0);
  });

  it('reports a spec the API server rejects in the pod, instead of retrying it forever', async () => {
    await s.cluster.createPea('bad-env', { env: 'PATH=/bin' } as never);
    const failed = await s.cluster.peaUntil('bad-env', 'Failed', (p) => p.status?.phase === 'Failed');
    expect(failed.status).toMatchObject({
      reason: 'InvalidSpec',
      message: expect.stringContaining('could not create pod bad-env-pea'),
    });
  });

  it('survives a hand-edited status and writes a sane one back', async () => {
    await s.cluster.createPea('edited');
    const pod = await s.cluster.podOf('edited');
    await s.cluster.peaUntil('edited', 'Starting', (p) => p.status?.phase === 'Starting');
    await s.cluster.custom.patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        namespace: s.cluster.namespace,
        plural: PLURAL,
        name: 'edited',
        body: {
          status: { phase: 'Sprouting', startTime: 'yesterday', conditions: 'all good', readyTime: 7 },
        },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await s.cluster.kubeletRunning(pod, true);
    const ready = await s.cluster.peaUntil('edited', 'Ready', (p) => p.status?.phase === 'Ready');
    expect(Array.isArray(ready.status?.conditions)).toBe(true);
    expect(ready.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(Number.isFinite(new Date(ready.status!.startTime!).getTime())).toBe(true);
  });

  it('still runs well-formed Peas next to them', async () => {
    await s.cluster.createPea('fine');
    await s.cluster.podOf('fine');
    const ok: Pea = await s.cluster.peaUntil('fine', 'Starting', (p) => p.status?.phase === 'Starting');
    expect(ok.status?.reason).toBeUndefined();
  });
});

// Invalid Peas are rejected by the API server itself, with a message naming the field.
import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { request } from 'node:https';
import { peaCrd } from '../../src/api/v1alpha1/schema.js';
import { MAX_NAME_LENGTH } from '../../src/api/v1alpha1/types.js';
import { apiSuite } from '../harness/suites.js';
import { until } from '../helpers/processes.js';

const s = apiSuite('validation');

async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    const e = err as { code?: number; body?: unknown };
    expect(e.code).toBe(422);
    return typeof e.body === 'string' ? e.body : JSON.stringify(e.body);
  }
  throw new Error('the API server accepted an invalid Pea');
}

describe('Pea validation in the API server', () => {
  it.each([
    ['a negative timeout', { timeouts: { readySeconds: -1 } }, 'spec.timeouts.readySeconds'],
    ['a zero cancel timeout', { timeouts: { cancelSeconds: 0 } }, 'spec.timeouts.cancelSeconds'],
    ['ready.grpc without a port', { ready: { grpc: {} } }, 'spec.ready.grpc.port'],
    ['a port out of range', { ready: { tcp: { port: 70000 } } }, 'spec.ready.tcp.port'],
    [
      'two ready kinds at once',
      { ready: { grpc: { port: 1 }, http: { port: 2 } } },
      'spec.ready: set only one of grpc, http, tcp or none',
    ],
    ['an empty image', { image: '' }, 'spec.image'],
    [
      'a restart policy the pod API has but a Pea does not',
      { restartPolicy: 'OnFailure' },
      'spec.restartPolicy',
    ],
  ])('rejects %s, naming the field', async (_what, spec, field) => {
    const message = await rejection(
      s.cluster.createPea(`bad-${Math.random().toString(36).slice(2, 8)}`, spec as object),
    );
    expect(message).toContain(field);
  });

  it('rejects a Pea without an image', async () => {
    const body = { apiVersion: 'peapods.io/v1alpha1', kind: 'Pea', metadata: { name: 'no-image' }, spec: {} };
    expect(
      await rejection(
        s.cluster.custom.createNamespacedCustomObject({
          group: 'peapods.io',
          version: 'v1alpha1',
          namespace: 'validation',
          plural: 'peas',
          body,
        }),
      ),
    ).toContain('spec.image');
  });

  it('rejects changing the runtime of an existing Pea, and says what to do', async () => {
    await s.cluster.createPea('fixed', { image: 'example/a:1', ready: { tcp: { port: 80 } } });
    expect(await rejection(s.cluster.patchPea('fixed', { spec: { image: 'example/b:2' } }))).toContain(
      'spec.image cannot change once the Pea exists: delete the Pea and create it again',
    );
    expect(
      await rejection(s.cluster.patchPea('fixed', { spec: { ready: { tcp: { port: 81 } } } })),
    ).toContain('spec.ready cannot change');
    // What may change does: cancel, and restartPolicy (what follows an end is not the runtime).
    expect(
      (await s.cluster.patchPea('fixed', { spec: { restartPolicy: 'Always' } })).spec.restartPolicy,
    ).toBe('Always');
    expect((await s.cluster.patchPea('fixed', { spec: { cancel: true } })).spec.cancel).toBe(true);
  });

  const named = (n: number): string => `long-${'n'.repeat(n)}`.slice(0, n);

  it.each([53, 63, 64, 253])(
    'rejects a name of %i characters, naming metadata.name and the limit',
    async (n) => {
      const message = await rejection(s.cluster.createPea(named(n)));
      expect(message).toContain(`metadata.name must be at most ${MAX_NAME_LENGTH} characters`);
    },
  );

  it(`takes a name of exactly ${MAX_NAME_LENGTH} characters end to end: its pod, label and Secret fit`, async () => {
    const name = named(MAX_NAME_LENGTH);
    expect(name).toHaveLength(MAX_NAME_LENGTH);
    const operator = s.cluster.startOperator();
    try {
      await s.cluster.createPea(name);
      const pod = await s.cluster.podOf(name);
      expect(pod.metadata?.name).toBe(`${name}-pea`);
      expect(pod.metadata?.labels?.['peapods.io/pea']).toBe(name);
      const secret = { namespace: 'validation', name: `${name}-pea-token` };
      await until('the token Secret', () => s.cluster.core.readNamespacedSecret(secret), 60_000);
      const starting = await s.cluster.peaUntil(name, 'Starting', (p) => p.status?.phase === 'Starting');
      expect(starting.status?.podName).toBe(`${name}-pea`);
    } finally {
      operator.child.kill('SIGTERM');
      await operator.exited;
    }
  });

  it('updates and deletes a longer-named Pea made before the rule (CRD upgrade): create only', async () => {
    const ext = s.api.admin.makeApiClient(k8s.ApiextensionsV1Api);
    const JSON_PATCH = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch);
    const path = '/spec/versions/0/schema/openAPIV3Schema/x-kubernetes-validations';
    const crd = peaCrd() as {
      spec: { versions: Array<{ schema: { openAPIV3Schema: Record<string, unknown> } }> };
    };
    const rules = crd.spec.versions[0]?.schema.openAPIV3Schema['x-kubernetes-validations'];
    const old = named(60);
    await ext.patchCustomResourceDefinition(
      { name: 'peas.peapods.io', body: [{ op: 'remove', path }] },
      JSON_PATCH,
    );
    try {
      await until('the CRD without the rule', () => s.cluster.createPea(old).catch(() => undefined), 60_000);
    } finally {
      const restore = [{ op: 'add', path, value: rules }];
      await ext.patchCustomResourceDefinition({ name: 'peas.peapods.io', body: restore }, JSON_PATCH);
    }
    // A fresh name each try: a probe accepted while the old schema still served stays behind.
    let tries = 0;
    const refused = (e: { code?: number }): true | undefined => (e.code === 422 ? true : undefined);
    const probe = (): Promise<true | undefined> =>
      s.cluster.createPea(`${named(58)}-${tries++}`.padEnd(61, 'x')).then(() => undefined, refused);
    await until('the rule back', probe, 60_000);
    const kept = await s.cluster.patchPea(old, { metadata: { finalizers: ['example.com/keep'] } });
    expect(kept.metadata.finalizers).toEqual(['example.com/keep']);
    await s.cluster.deletePea(old);
    await s.cluster.patchPea(old, { metadata: { finalizers: null } });
    const gone = (e: { code?: number }): true | undefined => (e.code === 404 ? true : undefined);
    await until('the old Pea gone', () => s.cluster.getPea(old).then(() => undefined, gone), 60_000);
  });

  it('fills the defaults a user leaves out', async () => {
    const pea = await s.cluster.createPea('defaults');
    expect(pea.spec).toMatchObject({
      cancel: false,
      restartPolicy: 'Never',
      timeouts: { readySeconds: 300, cancelSeconds: 10, teardownSeconds: 30 },
    });
  });
});

/** GET as cluster admin; the test API server's certificate is self-signed. */
function getJson(path: string, accept = 'application/json'): Promise<Record<string, unknown>> {
  const url = new URL(path, s.api.url);
  return new Promise((resolve, reject) => {
    request(
      {
        hostname: url.hostname,
        port: url.port,
        path: url.pathname,
        rejectUnauthorized: false,
        headers: { accept, authorization: `Bearer ${s.api.admin.getCurrentUser()?.token}` },
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () =>
          res.statusCode === 200
            ? resolve(JSON.parse(body) as Record<string, unknown>)
            : reject(new Error(`GET ${path}: HTTP ${res.statusCode}`)),
        );
      },
    )
      .on('error', reject)
      .end();
  });
}

type Doc = { description?: string; properties?: Record<string, Doc>; allOf?: Doc[] };

describe('kubectl explain and get', () => {
  // kubectl explain reads the API server's OpenAPI v3 document; this reads the same one.
  it('finds a description for pea.spec.timeouts and each of its fields', async () => {
    const doc = await until('the Pea in the published OpenAPI', async () => {
      const d = (await getJson('/openapi/v3/apis/peapods.io/v1alpha1')) as {
        components?: { schemas?: Record<string, Doc> };
      };
      return d.components?.schemas?.['io.peapods.v1alpha1.Pea'];
    });
    const timeouts = doc.properties?.spec?.properties?.timeouts;
    expect(timeouts?.description).toMatch(/timeouts, in seconds/i);
    for (const field of ['readySeconds', 'cancelSeconds', 'teardownSeconds'])
      expect(timeouts?.properties?.[field]?.description).toBeTruthy();
    expect(timeouts?.properties?.readySeconds?.description).toContain('ReadyTimeout');
  });

  // kubectl get asks for a Table and prints its columns: the CRD's printer columns.
  it('lists Peas with their phase, readiness, pod and age', async () => {
    await s.cluster.createPea('listed');
    const table = (await getJson(
      '/apis/peapods.io/v1alpha1/namespaces/validation/peas',
      'application/json;as=Table;v=v1;g=meta.k8s.io',
    )) as { columnDefinitions: Array<{ name: string; priority: number }> };
    expect(table.columnDefinitions.filter((c) => c.priority === 0).map((c) => c.name)).toEqual([
      'Name',
      'Phase',
      'Ready',
      'Pod',
      'Age',
    ]);
  });
});

// Invalid Peas are rejected by the API server itself, with a message naming the field.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startApiServer, type ApiServer } from '../harness/apiserver.js';
import { TestCluster } from '../harness/cluster.js';

let api: ApiServer;
let cluster: TestCluster;

beforeAll(async () => {
  api = await startApiServer();
  cluster = new TestCluster(api, 'validation');
  await cluster.createNamespace();
}, 120_000);

afterAll(async () => {
  await api?.stop();
}, 60_000);

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
    ['two ready kinds at once', { ready: { grpc: { port: 1 }, http: { port: 2 } } }, 'spec.ready: set only one of grpc, http, tcp or none'],
    ['an empty image', { image: '' }, 'spec.image'],
  ])('rejects %s, naming the field', async (_what, spec, field) => {
    const message = await rejection(cluster.createPea(`bad-${Math.random().toString(36).slice(2, 8)}`, spec as object));
    expect(message).toContain(field);
  });

  it('rejects a Pea without an image', async () => {
    const body = { apiVersion: 'peapods.io/v1alpha1', kind: 'Pea', metadata: { name: 'no-image' }, spec: {} };
    expect(await rejection(cluster.custom.createNamespacedCustomObject({ group: 'peapods.io', version: 'v1alpha1', namespace: 'validation', plural: 'peas', body }))).toContain('spec.image');
  });

  it('rejects changing the runtime of an existing Pea, and says what to do', async () => {
    await cluster.createPea('fixed', { image: 'example/a:1', ready: { tcp: { port: 80 } } });
    expect(await rejection(cluster.patchPea('fixed', { spec: { image: 'example/b:2' } }))).toContain('spec.image cannot change once the Pea exists: delete the Pea and create it again');
    expect(await rejection(cluster.patchPea('fixed', { spec: { ready: { tcp: { port: 81 } } } }))).toContain('spec.ready cannot change');
    // What may change does: cancel.
    expect((await cluster.patchPea('fixed', { spec: { cancel: true } })).spec.cancel).toBe(true);
  });

  it('fills the defaults a user leaves out', async () => {
    const pea = await cluster.createPea('defaults');
    expect(pea.spec).toMatchObject({ cancel: false, timeouts: { readySeconds: 300, cancelSeconds: 10, teardownSeconds: 30 } });
  });
});

// What a hand edit or an older, laxer CRD can leave in a Pea is reported on the Pea and
// rebuilt, never thrown: each row is a malformed Pea and what decide() makes of it.
import { describe, expect, it } from '@jest/globals';
import type { Pea } from '../../../src/api/v1alpha1/types.js';
import { decide, podRejected, readStatus } from '../../../src/operator/decide.js';

const T0 = new Date('2026-01-01T00:00:00Z');

function pea(spec: unknown, status?: unknown): Pea {
  return {
    apiVersion: 'peapods.io/v1alpha1',
    kind: 'Pea',
    metadata: { name: 'p', namespace: 'ns', uid: 'u', generation: 2, finalizers: ['peapods.io/cancel'] },
    spec: spec as Pea['spec'],
    ...(status !== undefined ? { status: status as Pea['status'] } : {}),
  };
}

describe('readStatus', () => {
  it('keeps a well-formed status as it is', () => {
    const status = {
      phase: 'Ready',
      podName: 'p-pea',
      startTime: T0.toISOString(),
      exitCode: 0,
      conditions: [
        { type: 'Ready', status: 'True', reason: 'r', message: '', lastTransitionTime: T0.toISOString() },
      ],
    };
    expect(readStatus(status)).toEqual({ status, garbled: [] });
  });

  it.each([
    ['an unknown phase', { phase: 'Sprouting' }, ['status.phase']],
    [
      'a time that is not a time',
      { startTime: 'yesterday', readyTime: 7 },
      ['status.startTime', 'status.readyTime'],
    ],
    ['conditions that are not a list of conditions', { conditions: 'all good' }, ['status.conditions']],
    ['an exit code that is not a number', { exitCode: '3' }, ['status.exitCode']],
    ['a status that is not an object', 'fine', ['status']],
  ])('drops and names %s', (_what, raw, garbled) => {
    const r = readStatus(raw);
    expect(r.garbled).toEqual(garbled);
    for (const f of garbled) expect(r.status).not.toHaveProperty(f.replace('status.', ''));
  });
});

describe('decide on malformed Peas', () => {
  it.each([
    ['no spec', undefined, 'spec is missing'],
    ['an image that is not a string', { image: 42 }, 'spec.image'],
    ['timeouts that are not an object', { image: 'i', timeouts: 'long' }, 'spec.timeouts'],
    [
      'a timeout that is not a number',
      { image: 'i', timeouts: { cancelSeconds: 'soon' } },
      'spec.timeouts.cancelSeconds',
    ],
    ['two ready kinds', { image: 'i', ready: { tcp: { port: 1 }, none: {} } }, 'spec.ready: set only one'],
    [
      'a ready port that is not a port',
      { image: 'i', ready: { grpc: { port: '50061' } } },
      'spec.ready.grpc.port',
    ],
  ])('fails a Pea with %s as InvalidSpec, naming the field, without a pod', (_what, spec, field) => {
    const d = decide(pea(spec), undefined, T0);
    expect(d.status).toMatchObject({
      phase: 'Failed',
      reason: 'InvalidSpec',
      message: expect.stringContaining(field),
    });
    expect(d.actions.map((a) => a.kind)).not.toContain('createPod');
  });

  it('rebuilds a garbled status from the pod and warns once about what it ignored', () => {
    const pod = {
      metadata: { name: 'p-pea', creationTimestamp: T0 },
      status: { podIP: '10.0.0.5', conditions: [{ type: 'Ready', status: 'True' }] },
    };
    const d = decide(
      pea({ image: 'i' }, { phase: 'Sprouting', startTime: 'yesterday', conditions: 'all good' }),
      pod,
      T0,
    );
    expect(d.status).toMatchObject({
      phase: 'Ready',
      startTime: T0.toISOString(),
      readyTime: T0.toISOString(),
    });
    expect(d.status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(d.events[0]).toMatchObject({
      type: 'Warning',
      reason: 'MalformedStatus',
      message: expect.stringContaining('status.phase, status.startTime, status.conditions'),
    });
  });
});

describe('podRejected', () => {
  it("fails the Pea with the API server's words and the conditions to match", () => {
    const d = podRejected(pea({ image: 'i' }), 'could not create pod p-pea: Pod "p-pea" is invalid', T0);
    expect(d.status).toMatchObject({
      phase: 'Failed',
      reason: 'InvalidSpec',
      message: expect.stringContaining('is invalid'),
      observedGeneration: 2,
    });
    expect(d.status.conditions).toEqual([
      expect.objectContaining({
        type: 'Ready',
        status: 'False',
        reason: 'InvalidSpec',
        observedGeneration: 2,
      }),
      expect.objectContaining({ type: 'Finished', status: 'True', reason: 'InvalidSpec' }),
    ]);
    expect(d.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'InvalidSpec' })]);
  });
});

// decide() is pure: each row is a Pea, its pod and a time, and what must follow.
import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import type { Pea, PeaStatus } from '../../../src/api/v1alpha1/types.js';
import { decide } from '../../../src/operator/decide.js';

const T0 = new Date('2026-01-01T00:00:00Z');
const at = (s: number): Date => new Date(T0.getTime() + s * 1000);

function pea(spec: Partial<Pea['spec']> = {}, status?: PeaStatus, meta: Partial<Pea['metadata']> = {}): Pea {
  return {
    apiVersion: 'peapods.io/v1alpha1', kind: 'Pea',
    metadata: { name: 'p', namespace: 'ns', uid: 'u', generation: 1, finalizers: ['peapods.io/cancel'], ...meta },
    spec: { image: 'img', timeouts: { readySeconds: 60, cancelSeconds: 10, teardownSeconds: 30 }, ...spec },
    ...(status ? { status } : {}),
  };
}

function pod(opts: { ready?: boolean; exit?: number; ip?: string } = {}): V1Pod {
  return {
    metadata: { name: 'p-pea', creationTimestamp: T0 },
    status: {
      podIP: opts.ip ?? '10.0.0.5',
      conditions: [{ type: 'Ready', status: opts.ready ? 'True' : 'False' }],
      containerStatuses: [{ name: 'runtime', image: 'img', imageID: '', ready: Boolean(opts.ready), restartCount: 0,
        state: opts.exit === undefined ? { running: {} } : { terminated: { exitCode: opts.exit, message: '' } } }],
    },
  };
}

const kinds = (d: ReturnType<typeof decide>): string[] => d.actions.map((a) => a.kind);

describe('decide', () => {
  it('adds the finalizer and creates the pod of a new Pea', () => {
    const d = decide(pea({}, undefined, { finalizers: [] }), undefined, T0);
    expect(kinds(d)).toEqual(['addFinalizer', 'createPod']);
    expect(d.status).toEqual({}); // written once the pod is seen
    expect(d.requeueAfterMs).toBe(60_000);
  });

  it('records the start when the new pod is seen', () => {
    const d = decide(pea(), pod(), at(2));
    expect(d.status).toMatchObject({ phase: 'Starting', podName: 'p-pea', startTime: T0.toISOString() });
    expect(d.events).toEqual([expect.objectContaining({ type: 'Normal', reason: 'Starting' })]);
  });

  it.each([
    ['starting, within the ready timeout', { startTime: T0.toISOString(), phase: 'Starting' as const }, pod(), at(10), 'Starting', [], 50_000],
    ['ready', { startTime: T0.toISOString(), phase: 'Starting' as const }, pod({ ready: true }), at(10), 'Ready', [], undefined],
    ['not ready in time', { startTime: T0.toISOString(), phase: 'Starting' as const }, pod(), at(61), 'Failed', ['deletePod'], undefined],
  ])('%s', (_n, status, p, now, phase, actions, requeue) => {
    const d = decide(pea({}, status), p, now);
    expect(d.status.phase).toBe(phase);
    expect(kinds(d)).toEqual(actions);
    expect(d.requeueAfterMs).toBe(requeue);
  });

  it('waits forever with readySeconds 0', () => {
    const d = decide(pea({ timeouts: { readySeconds: 0 } }, { startTime: T0.toISOString(), phase: 'Starting' }), pod(), at(100_000));
    expect(d.status.phase).toBe('Starting');
    expect(d.requeueAfterMs).toBeUndefined();
  });

  it.each([
    [0, undefined, 'Succeeded', 'Completed'],
    [2, undefined, 'Failed', 'FailedToStart'],
    [2, T0.toISOString(), 'Failed', 'RunForeverError'],
  ])('exit %i (readyTime %s) → %s %s', (exit, readyTime, phase, reason) => {
    const d = decide(pea({}, { startTime: T0.toISOString(), phase: 'Starting', ...(readyTime ? { readyTime } : {}) }), pod({ exit }), at(5));
    expect(d.status).toMatchObject({ phase, reason, exitCode: exit });
  });

  it('cancel: RPC once, then wait, then delete the pod at the deadline', () => {
    const running = { startTime: T0.toISOString(), phase: 'Ready' as const, readyTime: T0.toISOString() };
    const first = decide(pea({ cancel: true }, running), pod({ ready: true }), at(1));
    expect(kinds(first)).toEqual(['cancelRpc']);
    expect(first.status).toMatchObject({ phase: 'Cancelling', cancelTime: at(1).toISOString() });
    const waiting = decide(pea({ cancel: true }, first.status), pod({ ready: true }), at(5));
    expect(kinds(waiting)).toEqual([]);
    const late = decide(pea({ cancel: true }, first.status), pod({ ready: true }), at(17));
    expect(kinds(late)).toEqual(['deletePod']);
    expect(late.status).toMatchObject({ phase: 'Failed', reason: 'CancelTimeout' });
    const done = decide(pea({ cancel: true }, first.status), pod({ exit: 143 }), at(5));
    expect(done.status).toMatchObject({ phase: 'Succeeded', reason: 'Cancelled' });
  });

  it('a deleted Pea that has finished loses its finalizer', () => {
    const d = decide(pea({}, { phase: 'Succeeded', reason: 'Cancelled' }, { deletionTimestamp: T0 }), undefined, T0);
    expect(kinds(d)).toEqual(['removeFinalizer']);
  });

  it('a pod deleted by someone else is reported, not recreated', () => {
    const d = decide(pea({}, { phase: 'Ready', podName: 'p-pea', startTime: T0.toISOString() }), undefined, at(3));
    expect(kinds(d)).toEqual([]);
    expect(d.status).toMatchObject({ phase: 'Failed', reason: 'PodDeleted' });
  });

  it.each([
    ['no spec', { spec: undefined }],
    ['no image', { spec: { timeouts: {} } }],
    ['a negative timeout', { spec: { image: 'i', timeouts: { readySeconds: -5 } } }],
  ])('a malformed Pea (%s) is reported as InvalidSpec, never thrown', (_n, patch) => {
    const bad = { ...pea(), ...patch } as unknown as Pea;
    const d = decide(bad, undefined, T0);
    expect(d.status).toMatchObject({ phase: 'Failed', reason: 'InvalidSpec' });
    expect(kinds(d)).not.toContain('createPod');
  });

  it('a hand-edited status with a garbage time does not spin', () => {
    const d = decide(pea({}, { phase: 'Starting', startTime: 'yesterday-ish' }), pod(), at(10));
    expect(Number.isFinite(d.requeueAfterMs ?? 0)).toBe(true);
    expect(d.status.phase).toBe('Starting');
  });

  it('keeps lastTransitionTime while a condition holds, and sets observedGeneration', () => {
    const first = decide(pea({}, { phase: 'Starting', startTime: T0.toISOString() }), pod({ ready: true }), at(1));
    const second = decide(pea({}, first.status), pod({ ready: true }), at(9));
    const ready = second.status.conditions?.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({ status: 'True', lastTransitionTime: at(1).toISOString(), observedGeneration: 1 });
  });
});

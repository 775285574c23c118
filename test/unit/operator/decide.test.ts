// decide() is pure: each row is a Pea, its pod and a time, and what must follow.
import { describe, expect, it } from '@jest/globals';
import type { V1ContainerState, V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import type { Pea, PeaStatus } from '../../../src/api/v1alpha1/types.js';
import { decide, restartBackoffSeconds, type Action, type Decision } from '../../../src/operator/decide.js';

const T0 = new Date('2026-01-01T00:00:00Z');
const at = (s: number): Date => new Date(T0.getTime() + s * 1000);

function pea(spec: Partial<Pea['spec']> = {}, status?: PeaStatus, meta: Partial<Pea['metadata']> = {}): Pea {
  return {
    apiVersion: 'peapods.io/v1alpha1',
    kind: 'Pea',
    metadata: {
      name: 'p',
      namespace: 'ns',
      uid: 'u',
      generation: 1,
      ...meta,
    },
    spec: { image: 'img', timeouts: { readySeconds: 60, cancelSeconds: 10, teardownSeconds: 30 }, ...spec },
    ...(status ? { status } : {}),
  };
}

/**
 * A pod as the kubelet shows it. With `exit`, the runtime container has terminated and, as the
 * kubelet does once the sidecar stopped after it, the pod's phase is final; `tearingDown`
 * leaves the pod Running: the sidecar still runs the teardown.
 */
function pod(opts: { ready?: boolean; exit?: number; ip?: string; tearingDown?: boolean } = {}): V1Pod {
  const ended = opts.exit !== undefined && !opts.tearingDown;
  return {
    metadata: { name: 'p-pea', creationTimestamp: T0 },
    status: {
      ...(ended ? { phase: opts.exit === 0 ? 'Succeeded' : 'Failed' } : {}),
      podIP: opts.ip ?? '10.0.0.5',
      conditions: [{ type: 'Ready', status: opts.ready ? 'True' : 'False' }],
      containerStatuses: [
        {
          name: 'runtime',
          image: 'img',
          imageID: '',
          ready: Boolean(opts.ready),
          restartCount: 0,
          state:
            opts.exit === undefined ? { running: {} } : { terminated: { exitCode: opts.exit, message: '' } },
        },
      ],
    },
  };
}

/** The actions but the token Secret, which every pass of a live Pea asks for (tested on its own below). */
const writes = (d: ReturnType<typeof decide>): Action[] =>
  d.actions.filter((a) => a.kind !== 'createTokenSecret');
const kinds = (d: ReturnType<typeof decide>): string[] => writes(d).map((a) => a.kind);

describe('decide', () => {
  it('creates the pod of a new Pea, and puts no finalizer on it', () => {
    const d = decide(pea(), undefined, T0);
    expect(kinds(d)).toEqual(['createPod']);
    expect(d.status).toEqual({}); // written once the pod is seen
    expect(d.requeueAfterMs).toBe(60_000);
  });

  const started = { startTime: T0.toISOString(), phase: 'Starting' as const };
  const backingOff = {
    phase: 'Pending' as const,
    restartCount: 1,
    lastTermination: {
      reason: 'RunForeverError',
      message: 'boom',
      finishTime: T0.toISOString(),
      backoffSeconds: 10,
    },
  };
  it.each([
    ['the pod to create', pea(), undefined, true],
    ['a starting pod', pea({}, started), pod(), true],
    ['a cancelling pod', pea({ cancel: true }, { ...started, phase: 'Ready' }), pod({ ready: true }), true],
    ["no pod, in a restart's back-off", pea({ restartPolicy: 'Always' }, backingOff), undefined, false],
    ['a pod whose Pea ended now', pea({}, started), pod({ exit: 0 }), false],
    ['a pod of an ended Pea', pea({}, { phase: 'Succeeded', reason: 'Completed' }), pod({ exit: 0 }), false],
  ])('the token Secret, with %s', (_n, p, po, wanted) => {
    // Written once per process (once.ts): a Secret lost with a killed operator comes back.
    expect(decide(p, po, at(1)).actions.some((a) => a.kind === 'createTokenSecret')).toBe(wanted);
  });

  it('records the start when the new pod is seen', () => {
    const d = decide(pea(), pod(), at(2));
    expect(d.status).toMatchObject({ phase: 'Starting', podName: 'p-pea', startTime: T0.toISOString() });
    // No Event: the pod's own Events tell its start (one write per Pea less).
    expect(d.events).toEqual([]);
  });

  it.each([
    [
      'starting, within the ready timeout',
      { startTime: T0.toISOString(), phase: 'Starting' as const },
      pod(),
      at(10),
      'Starting',
      [],
      50_000,
    ],
    [
      'ready',
      { startTime: T0.toISOString(), phase: 'Starting' as const },
      pod({ ready: true }),
      at(10),
      'Ready',
      [],
      undefined,
    ],
    [
      'not ready in time',
      { startTime: T0.toISOString(), phase: 'Starting' as const },
      pod(),
      at(61),
      'Failed',
      ['deletePod'],
      undefined,
    ],
  ])('%s', (_n, status, p, now, phase, actions, requeue) => {
    const d = decide(pea({}, status), p, now);
    expect(d.status.phase).toBe(phase);
    expect(kinds(d)).toEqual(actions);
    expect(d.requeueAfterMs).toBe(requeue);
  });

  it('waits forever with readySeconds 0', () => {
    const d = decide(
      pea({ timeouts: { readySeconds: 0 } }, { startTime: T0.toISOString(), phase: 'Starting' }),
      pod(),
      at(100_000),
    );
    expect(d.status.phase).toBe('Starting');
    expect(d.requeueAfterMs).toBeUndefined();
  });

  it.each([
    [0, undefined, 'Succeeded', 'Completed'],
    [2, undefined, 'Failed', 'FailedToStart'],
    [2, T0.toISOString(), 'Failed', 'RunForeverError'],
  ])('exit %i (readyTime %s) → %s %s', (exit, readyTime, phase, reason) => {
    const d = decide(
      pea({}, { startTime: T0.toISOString(), phase: 'Starting', ...(readyTime ? { readyTime } : {}) }),
      pod({ exit }),
      at(5),
    );
    expect(d.status).toMatchObject({ phase, reason, exitCode: exit });
  });

  it('cancel: cancelTime with the RPC, asked for while waiting (once per process); pod deleted at deadline', () => {
    const running = { startTime: T0.toISOString(), phase: 'Ready' as const, readyTime: T0.toISOString() };
    const first = decide(pea({ cancel: true }, running), pod({ ready: true }), at(1));
    expect(kinds(first)).toEqual(['cancelRpc']);
    expect(first.status).toMatchObject({ phase: 'Cancelling', cancelTime: at(1).toISOString() });
    const waiting = decide(pea({ cancel: true }, first.status), pod({ ready: true }), at(5));
    expect(kinds(waiting)).toEqual(['cancelRpc']);
    expect(waiting.status.cancelTime).toBe(at(1).toISOString());
    const done = decide(pea({ cancel: true }, first.status), pod({ exit: 143 }), at(5));
    expect(done.status).toMatchObject({ phase: 'Succeeded', reason: 'Cancelled' });
  });

  it('cancel timeout: pod deleted at the deadline; the Pea ends once the pod says how the runtime ended', () => {
    const cancelling = {
      startTime: T0.toISOString(),
      phase: 'Cancelling' as const,
      readyTime: T0.toISOString(),
      podName: 'p-pea',
      cancelTime: at(1).toISOString(),
    };
    // deadline: cancelTime + cancelSeconds (10) + min(teardownSeconds, 5) = 16 s
    // First the deletion is recorded (reason CancelTimeout while still Cancelling), then made.
    const recorded = decide(pea({ cancel: true }, cancelling), pod({ ready: true }), at(17));
    expect(kinds(recorded)).toEqual([]);
    expect(recorded.status).toMatchObject({
      phase: 'Cancelling',
      reason: 'CancelTimeout',
      message: expect.stringContaining('its pod is being deleted'),
    });
    const late = decide(pea({ cancel: true }, recorded.status), pod({ ready: true }), at(17));
    expect(kinds(late)).toEqual(['deletePod']);
    expect(late.status).toEqual(recorded.status);
    const terminating = {
      ...pod({ ready: true }),
      metadata: { ...pod().metadata, deletionTimestamp: at(17) },
    };
    expect(kinds(decide(pea({ cancel: true }, late.status), terminating, at(18)))).toEqual([]); // no second delete
    const killed = decide(pea({ cancel: true }, late.status), pod({ exit: 137 }), at(20));
    expect(killed.status).toMatchObject({ phase: 'Failed', reason: 'CancelTimeout', exitCode: 137 });
    // A node that never confirms the deletion: the Pea ends anyway, saying so.
    const stuck = decide(pea({ cancel: true }, late.status), terminating, at(16 + 30 + 30));
    expect(stuck.status).toMatchObject({
      phase: 'Failed',
      reason: 'CancelTimeout',
      message: expect.stringContaining('was still not gone'),
    });
  });

  it('a pod gone after its cancel-timeout deletion is a CancelTimeout, whenever that is seen', () => {
    // The old operator deleted the pod at the deadline and was killed before its status
    // write, so the next one read "cancelled; the pod is gone". Now the deletion is recorded
    // first: the next operator finds the record, and the pod gone.
    const cancelling = {
      startTime: T0.toISOString(),
      phase: 'Cancelling' as const,
      readyTime: T0.toISOString(),
      podName: 'p-pea',
      cancelTime: at(1).toISOString(),
    };
    const recorded = decide(pea({ cancel: true }, cancelling), pod({ ready: true }), at(17)).status;
    expect(decide(pea({ cancel: true }, recorded), undefined, at(18)).status).toMatchObject({
      phase: 'Failed',
      reason: 'CancelTimeout',
    });
    // A pod the operator did not delete for the timeout (the Pea's own cancel deleted it, or
    // the cancel's fallback did) ran its preStop cancel: Cancelled, however late that is seen.
    expect(decide(pea({ cancel: true }, cancelling), undefined, at(5)).status).toMatchObject({
      phase: 'Succeeded',
      reason: 'Cancelled',
    });
    expect(decide(pea({ cancel: true }, cancelling), undefined, at(40)).status).toMatchObject({
      phase: 'Succeeded',
      reason: 'Cancelled',
    });
  });

  it('a runtime that exited while its sidecar still tears down is not an end yet', () => {
    const running = {
      startTime: T0.toISOString(),
      phase: 'Ready' as const,
      readyTime: T0.toISOString(),
      podName: 'p-pea',
    };
    const d = decide(pea({}, running), pod({ exit: 0, tearingDown: true }), at(5));
    expect(d.status.phase).toBe('Ready');
    expect(d.requeueAfterMs).toBeGreaterThan(0);
    expect(decide(pea({}, running), pod({ exit: 0 }), at(6)).status).toMatchObject({
      phase: 'Succeeded',
      reason: 'Completed',
    });
  });

  it("a deleted Pea held by its PeaSet's drain finalizer runs on, uncancelled, until let go of", () => {
    const running = { startTime: T0.toISOString(), phase: 'Ready' as const, readyTime: T0.toISOString() };
    const finalizers = ['peapods.io/drain'];
    const held = decide(pea({}, running, { deletionTimestamp: T0, finalizers }), pod({ ready: true }), at(1));
    expect(kinds(held)).toEqual([]);
    expect(held.status.phase).toBe('Ready');
    const letGo = {
      deletionTimestamp: T0,
      finalizers,
      annotations: { 'peapods.io/let-go': T0.toISOString() },
    };
    expect(kinds(decide(pea({}, running, letGo), pod({ ready: true }), at(2)))).toEqual(['cancelRpc']);
    const released = decide(pea({}, running, { deletionTimestamp: T0 }), pod({ ready: true }), at(2));
    expect(kinds(released)).toEqual(['cancelRpc']);
    // Held or not, a runtime that ends by itself meanwhile is not restarted: the Pea is going.
    const always = pea({ restartPolicy: 'Always' }, running, { deletionTimestamp: T0, finalizers });
    expect(decide(always, pod({ exit: 0 }), at(3)).status.phase).toBe('Succeeded');
  });

  it.each([
    ['a live Pea', pea({}, { phase: 'Starting', startTime: T0.toISOString() }, {})],
    [
      'a deleted Pea that has finished',
      pea({}, { phase: 'Succeeded', reason: 'Cancelled' }, { deletionTimestamp: T0 }),
    ],
  ])("takes an older operator's finalizer off %s, and only its own", (_n, p) => {
    p.metadata.finalizers = ['example.com/keep', 'peapods.io/cancel'];
    const d = decide(p, p.status?.phase === 'Starting' ? pod() : undefined, at(1));
    expect(kinds(d)).toContain('removeFinalizer');
    p.metadata.finalizers = ['example.com/keep'];
    expect(kinds(decide(p, undefined, at(1)))).not.toContain('removeFinalizer');
  });

  describe('a Pea deleted in the foreground (its pod goes through the garbage collector)', () => {
    const ready = {
      phase: 'Ready' as const,
      podName: 'p-pea',
      startTime: T0.toISOString(),
      readyTime: T0.toISOString(),
    };
    const deleted = { deletionTimestamp: at(5), finalizers: ['foregroundDeletion'] };
    const deleting = (p: V1Pod): V1Pod => ({ ...p, metadata: { ...p.metadata, deletionTimestamp: at(5) } });

    it('is cancelled: Cancelling, with the Cancel RPC', () => {
      const d = decide(pea({}, ready, deleted), deleting(pod({ ready: true })), at(6));
      expect(d.status).toMatchObject({
        phase: 'Cancelling',
        message: 'cancelling: the Pea is being deleted',
      });
      expect(kinds(d)).toEqual(['cancelRpc']);
    });

    it.each([0, 143])(
      'ends Cancelled, not PodDeleted, when its preStop hook stopped the runtime (exit %i) before any Cancel',
      (exit) => {
        const d = decide(pea({}, ready, deleted), deleting(pod({ exit })), at(7));
        expect(d.status).toMatchObject({ phase: 'Succeeded', reason: 'Cancelled', exitCode: exit });
      },
    );

    it('a runtime that failed on its way out is told as its own failure, not as someone deleting the pod', () => {
      const d = decide(pea({}, ready, deleted), deleting(pod({ exit: 1 })), at(7));
      expect(d.status).toMatchObject({ phase: 'Failed', reason: 'RunForeverError', exitCode: 1 });
    });

    it('with --cascade=orphan the pod is kept running: no cancel', () => {
      const d = decide(
        pea({}, ready, { deletionTimestamp: at(5), finalizers: ['orphan'] }),
        pod({ ready: true }),
        at(6),
      );
      expect(d.status.phase).toBe('Ready');
      expect(kinds(d)).toEqual([]);
    });
  });

  it('a pod deleted by someone else is reported, not recreated', () => {
    const d = decide(
      pea({}, { phase: 'Ready', podName: 'p-pea', startTime: T0.toISOString() }),
      undefined,
      at(3),
    );
    expect(kinds(d)).toEqual([]);
    expect(d.status).toMatchObject({ phase: 'Failed', reason: 'PodDeleted' });
  });

  it('a Ready Pea whose pod stops being ready keeps its phase, and its Ready condition says why, once', () => {
    const was = {
      phase: 'Ready' as const,
      podName: 'p-pea',
      startTime: T0.toISOString(),
      readyTime: at(1).toISOString(),
    };
    const ready = decide(pea({}, was), pod({ ready: true }), at(2));
    expect(ready.status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    const restarted = pod();
    restarted.status!.initContainerStatuses = [
      {
        name: 'pea-runtime',
        image: 'i',
        imageID: '',
        ready: false,
        restartCount: 1,
        lastState: { terminated: { exitCode: 137, reason: 'Error' } },
      },
    ];
    const d = decide(pea({}, ready.status), restarted, at(3));
    expect(d.status.phase).toBe('Ready');
    expect(d.status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'NotReady',
      message: expect.stringContaining('runtime sidecar restarted (1 restarts, last exit 137 Error)'),
    });
    expect(d.events.map((e) => e.reason)).toEqual(['NotReady']);
    // Still not ready: no second Event; ready again: True.
    expect(decide(pea({}, d.status), restarted, at(4)).events).toEqual([]);
    expect(
      decide(pea({}, d.status), pod({ ready: true }), at(5)).status.conditions?.find(
        (c) => c.type === 'Ready',
      )?.status,
    ).toBe('True');
    const plain = decide(pea({}, ready.status), pod(), at(3));
    expect(plain.status.conditions?.find((c) => c.type === 'Ready')?.message).toContain(
      'the runtime stopped passing its ready check',
    );
  });

  it('a pod deleted by others whose runtime exited 0 via the preStop cancel is PodDeleted, not Completed', () => {
    const terminating = { ...pod({ exit: 0 }), metadata: { ...pod().metadata, deletionTimestamp: at(2) } };
    const d = decide(
      pea(
        {},
        { phase: 'Ready', podName: 'p-pea', startTime: T0.toISOString(), readyTime: at(1).toISOString() },
      ),
      terminating,
      at(3),
    );
    expect(d.status).toMatchObject({ phase: 'Failed', reason: 'PodDeleted', exitCode: 0 });
    expect(d.status.message).toContain('preStop');
  });

  it('a pod the Pea cancelled is Cancelled even while it is being deleted', () => {
    const terminating = { ...pod({ exit: 0 }), metadata: { ...pod().metadata, deletionTimestamp: at(2) } };
    const d = decide(
      pea(
        { cancel: true },
        {
          phase: 'Cancelling',
          podName: 'p-pea',
          startTime: T0.toISOString(),
          cancelTime: at(1).toISOString(),
        },
      ),
      terminating,
      at(3),
    );
    expect(d.status).toMatchObject({ phase: 'Succeeded', reason: 'Cancelled' });
  });

  it('a pod deleted by someone else, restartPolicy Never (the default), says how to run it again', () => {
    const d = decide(
      pea({ restartPolicy: 'Never' }, { phase: 'Ready', podName: 'p-pea', startTime: T0.toISOString() }),
      undefined,
      at(3),
    );
    expect(d.status.message).toContain('spec.restartPolicy is Never');
    expect(d.status.restartCount).toBeUndefined();
  });

  it.each([
    // previous back-off, how long the run lasted → the next back-off
    [undefined, 1_000, 10],
    [10, 1_000, 20],
    [20, 30_000, 40],
    [160, 1_000, 300],
    [300, 1_000, 300],
    [300, 599_999, 300],
    [300, 600_000, 10], // a run of 10 minutes resets it, as the kubelet does
    [0, 1_000, 10],
  ])('restart back-off after %s s and a run of %i ms: %i s', (previous, ranMs, next) => {
    expect(restartBackoffSeconds(previous, ranMs)).toBe(next);
  });

  describe('restartPolicy Always', () => {
    const running = {
      phase: 'Ready' as const,
      podName: 'p-pea',
      podIP: '10.0.0.5',
      startTime: T0.toISOString(),
      readyTime: T0.toISOString(),
    };
    const always = (
      status?: PeaStatus,
      meta: Partial<Pea['metadata']> = {},
      spec: Partial<Pea['spec']> = {},
    ): Pea => pea({ restartPolicy: 'Always', ...spec }, status, meta);

    it.each([
      ['the pod deleted by someone else', undefined, 'PodDeleted', undefined],
      ['the runtime crashed', pod({ exit: 3 }), 'RunForeverError', 3],
      ['the runtime finished by itself', pod({ exit: 0 }), 'Completed', 0],
    ])('%s: back to Pending, restart 1 due in 10 s, an Event, no pod yet', (_n, p, reason, exitCode) => {
      const d = decide(always(running), p, at(30));
      expect(kinds(d)).toEqual([]);
      expect(d.requeueAfterMs).toBe(10_000);
      expect(d.status).toMatchObject({
        phase: 'Pending',
        restartCount: 1,
        lastTermination: {
          podName: 'p-pea',
          reason,
          finishTime: at(30).toISOString(),
          startTime: T0.toISOString(),
          backoffSeconds: 10,
        },
      });
      expect(d.status.lastTermination?.exitCode).toBe(exitCode);
      // The current run's fields start afresh with the next pod.
      for (const k of [
        'podName',
        'podIP',
        'startTime',
        'readyTime',
        'finishTime',
        'exitCode',
        'reason',
      ] as const)
        expect(d.status[k]).toBeUndefined();
      expect(d.events).toEqual([
        expect.objectContaining({
          reason: 'Restarting',
          message: expect.stringContaining('restart 1 in 10s'),
        }),
      ]);
      expect(d.status.conditions).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ type: 'Ready', status: 'False', reason: 'Restarting' }),
          expect.objectContaining({ type: 'Finished', status: 'False' }),
        ]),
      );
    });

    const backingOff = (n: number, backoffSeconds: number, extra: object = {}): PeaStatus => ({
      phase: 'Pending',
      restartCount: n,
      lastTermination: {
        podName: n > 1 ? `p-pea-${n - 1}` : 'p-pea',
        reason: 'RunForeverError',
        message: 'boom',
        exitCode: 3,
        finishTime: T0.toISOString(),
        backoffSeconds,
      },
      ...extra,
    });

    it.each([
      ['within the back-off: wait for the rest of it', at(4), [], 6_000],
      ['the back-off is over: the next pod', at(10), ['createPod'], 60_000],
    ])('%s', (_n, now, actions, requeue) => {
      const d = decide(always(backingOff(1, 10)), undefined, now);
      expect(kinds(d)).toEqual(actions);
      expect(d.requeueAfterMs).toBe(requeue);
    });

    it('the next pod is seen: Starting, with the restart count kept', () => {
      const next = { ...pod(), metadata: { name: 'p-pea-1', creationTimestamp: at(11) } };
      const d = decide(always(backingOff(1, 10)), next, at(12));
      expect(d.status).toMatchObject({
        phase: 'Starting',
        podName: 'p-pea-1',
        startTime: at(11).toISOString(),
        restartCount: 1,
      });
      expect(d.events).toEqual([]);
    });

    it('a second crash doubles the back-off and deletes the pod before the last one', () => {
      const second = {
        phase: 'Ready' as const,
        podName: 'p-pea-1',
        startTime: at(11).toISOString(),
        readyTime: at(12).toISOString(),
        restartCount: 1,
        lastTermination: backingOff(1, 10).lastTermination,
      };
      const d = decide(always(second), { ...pod({ exit: 2 }), metadata: { name: 'p-pea-1' } }, at(20));
      expect(writes(d)).toEqual([{ kind: 'deletePod', name: 'p-pea' }]);
      expect(d.status).toMatchObject({
        phase: 'Pending',
        restartCount: 2,
        lastTermination: { podName: 'p-pea-1', backoffSeconds: 20 },
      });
      expect(d.requeueAfterMs).toBe(20_000);
    });

    it.each([
      ['spec.cancel', {}, { cancel: true }],
      ['deletion', { deletionTimestamp: T0 }, {}],
    ])('a cancel by %s during the back-off wins: Cancelled, no pod', (_n, meta, spec) => {
      const d = decide(always(backingOff(1, 10), meta, spec), undefined, at(10));
      expect(kinds(d)).toEqual([]);
      expect(d.status).toMatchObject({
        phase: 'Succeeded',
        reason: 'Cancelled',
        message: 'cancelled while waiting to restart',
        restartCount: 1,
      });
    });

    it('a cancel wins over a restart: a cancelled runtime that exits is Cancelled', () => {
      const cancelling = { ...running, phase: 'Cancelling' as const, cancelTime: at(1).toISOString() };
      const d = decide(always(cancelling, {}, { cancel: true }), pod({ exit: 143 }), at(2));
      expect(d.status).toMatchObject({ phase: 'Succeeded', reason: 'Cancelled' });
      expect(d.status.restartCount).toBeUndefined();
      // also when spec.cancel was taken back after the Cancel RPC went out
      const back = decide(always(cancelling), undefined, at(2));
      expect(back.status).toMatchObject({ phase: 'Succeeded', reason: 'Cancelled' });
      expect(back.status.restartCount).toBeUndefined();
    });

    it('a pod deleted while cancelling is Cancelled, not restarted', () => {
      const d = decide(always(running, {}, { cancel: true }), undefined, at(2));
      expect(d.status).toMatchObject({ phase: 'Succeeded', reason: 'Cancelled' });
    });

    it('restartPolicy changed to Never during the back-off: the Pea ends as the last run did', () => {
      const d = decide(pea({ restartPolicy: 'Never' }, backingOff(2, 20)), undefined, at(5));
      expect(kinds(d)).toEqual([]);
      expect(d.status).toMatchObject({
        phase: 'Failed',
        reason: 'RunForeverError',
        exitCode: 3,
        message: expect.stringContaining('spec.restartPolicy changed to Never'),
      });
    });

    it('a ready timeout is not restarted: the operator ended the run, not the runtime', () => {
      const d = decide(always({ startTime: T0.toISOString(), phase: 'Starting' }), pod(), at(61));
      expect(d.status).toMatchObject({ phase: 'Failed', reason: 'ReadyTimeout' });
      expect(d.actions).toEqual([{ kind: 'deletePod', name: 'p-pea' }]);
    });

    it('a garbled lastTermination is dropped and reported, never followed', () => {
      const d = decide(
        always({ ...backingOff(1, 10), lastTermination: { finishTime: 'soon' } as never }),
        undefined,
        at(1),
      );
      expect(d.events[0]).toMatchObject({
        reason: 'MalformedStatus',
        message: expect.stringContaining('status.lastTermination'),
      });
      expect(kinds(d)).toEqual(['createPod']);
    });
  });

  it.each([
    ['no spec', { spec: undefined }],
    ['no image', { spec: { timeouts: {} } }],
    ['a negative timeout', { spec: { image: 'i', timeouts: { readySeconds: -5 } } }],
    ['an unknown restartPolicy', { spec: { image: 'i', restartPolicy: 'OnFailure' } }],
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

  describe('while Starting, the Ready condition names what the pod waits on', () => {
    const starting = { phase: 'Starting' as const, podName: 'p-pea', startTime: T0.toISOString() };
    const container = (name: string, state: V1ContainerState): V1ContainerStatus => ({
      name,
      image: 'i',
      imageID: '',
      ready: false,
      restartCount: 0,
      state,
    });
    const waitingPod = (o: { scheduled?: object; runtime?: V1ContainerState }): V1Pod => ({
      metadata: { name: 'p-pea', creationTimestamp: T0 },
      status: {
        phase: 'Pending',
        conditions: [{ type: 'PodScheduled', status: 'True', ...o.scheduled }],
        initContainerStatuses: [container('pea-runtime', { running: {} })],
        containerStatuses: [container('runtime', o.runtime ?? { running: {} })],
      },
    });
    const kubelet = (reason: string, message?: string) =>
      waitingPod({ runtime: { waiting: { reason, message } } });
    const noRoom = '0/1 nodes are available: 1 Insufficient cpu.';
    const unschedulable = waitingPod({
      scheduled: { status: 'False', reason: 'Unschedulable', message: noRoom },
    });
    const pulling = (reason: string): V1Pod => kubelet(reason, 'lookup registry.invalid: no such host');
    const missingSecret = kubelet('CreateContainerConfigError', 'secret "k" not found');
    const ready = (d: ReturnType<typeof decide>) => d.status.conditions?.find((c) => c.type === 'Ready');
    const warnings = (d: Decision) => d.events.filter((e) => e.type === 'Warning').map((e) => e.reason);

    it.each([
      ['unschedulable', unschedulable, 'Unschedulable', 'Insufficient cpu', ['Unschedulable']],
      [
        'an image that cannot be pulled',
        pulling('ErrImagePull'),
        'ErrImagePull',
        'imagePullSecrets',
        ['ErrImagePull'],
      ],
      [
        'a missing Secret',
        missingSecret,
        'CreateContainerConfigError',
        'the Secret',
        ['CreateContainerConfigError'],
      ],
      [
        'creating the runtime container: no problem',
        kubelet('ContainerCreating'),
        'ContainerCreating',
        'creating',
        [],
      ],
      ['the runtime runs, not ready yet: not a problem', pod(), 'RuntimeNotReady', 'Check on port 50061', []],
    ])(
      '%s: the wait on the Ready condition, a Warning Event for a problem',
      (_n, p, reason, words, warned) => {
        const d = decide(pea({ ready: { grpc: { port: 50061 } } }, starting), p, at(10));
        expect(d.status.phase).toBe('Starting');
        expect(ready(d)).toMatchObject({ status: 'False', reason, message: expect.stringContaining(words) });
        expect(warnings(d)).toEqual(warned);
        expect(kinds(d)).toEqual([]);
        expect(d.requeueAfterMs).toBe(50_000);
      },
    );

    it('warns once per problem: not on every pass, nor when the kubelet turns ErrImagePull to ImagePullBackOff', () => {
      const first = decide(pea({}, starting), pulling('ErrImagePull'), at(1));
      expect(first.events.map((e) => [e.type, e.reason])).toEqual([['Warning', 'ErrImagePull']]);
      const again = decide(pea({}, first.status), pulling('ErrImagePull'), at(2));
      expect(again.events).toEqual([]);
      const backOff = decide(pea({}, again.status), pulling('ImagePullBackOff'), at(3));
      expect(ready(backOff)?.reason).toBe('ImagePullBackOff');
      expect(backOff.events).toEqual([]);
      expect(decide(pea({}, backOff.status), pulling('ErrImagePull'), at(4)).events).toEqual([]);
      // A different problem is news.
      expect(warnings(decide(pea({}, backOff.status), unschedulable, at(5)))).toEqual(['Unschedulable']);
    });

    it('the first status of a new pod already names its wait: Starting, and the problem (Warning)', () => {
      const d = decide(pea(), unschedulable, at(1));
      expect(d.status.phase).toBe('Starting');
      expect(d.events.map((e) => [e.type, e.reason])).toEqual([['Warning', 'Unschedulable']]);
    });

    it('a wait that cannot heal (an image reference that cannot parse) fails the Pea at once, deleting the pod', () => {
      const bad = kubelet('InvalidImageName', 'invalid reference format: repository name must be lowercase');
      const d = decide(pea({}, starting), bad, at(2));
      expect(d.status).toMatchObject({
        phase: 'Failed',
        reason: 'InvalidImageName',
        finishTime: at(2).toISOString(),
      });
      expect(d.status.message).toContain('must be lowercase');
      expect(d.actions).toEqual([{ kind: 'deletePod', name: 'p-pea' }]);
      expect(d.events.map((e) => [e.type, e.reason])).toEqual([['Warning', 'InvalidImageName']]);
      const finished = d.status.conditions?.find((c) => c.type === 'Finished');
      expect(finished).toMatchObject({ status: 'True', reason: 'InvalidImageName' });
    });

    it.each([
      ['stuck on a pull: fails with it', pulling('ImagePullBackOff'), 'ImagePullBackOff', 'imagePullSecrets'],
      [
        'unschedulable: fails with it',
        unschedulable,
        'Unschedulable',
        'lower the requests in spec.resources',
      ],
      [
        'the runtime ran but never passed its check: ReadyTimeout',
        pod(),
        'ReadyTimeout',
        'raise spec.timeouts',
      ],
    ])('at readySeconds, %s', (_n, p, reason, words) => {
      const d = decide(pea({}, starting), p, at(60));
      expect(d.status).toMatchObject({ phase: 'Failed', reason, message: expect.stringContaining(words) });
      expect(d.status.message).toContain('not ready after 60s (spec.timeouts.readySeconds is 60)');
      if (reason !== 'ReadyTimeout') expect(d.status.message).not.toContain('raise');
      expect(d.actions).toEqual([{ kind: 'deletePod', name: 'p-pea' }]);
    });

    it('a wait that heals (the Secret appears) lets the Pea become Ready; readySeconds 0 waits on a problem', () => {
      const d = decide(pea({}, starting), missingSecret, at(5));
      expect(decide(pea({}, d.status), pod({ ready: true }), at(6)).status.phase).toBe('Ready');
      const forever = decide(pea({ timeouts: { readySeconds: 0 } }, starting), unschedulable, at(100_000));
      expect(forever.status.phase).toBe('Starting');
      expect(forever.requeueAfterMs).toBeUndefined();
    });
  });

  it('keeps lastTransitionTime while a condition holds, and sets observedGeneration', () => {
    const first = decide(
      pea({}, { phase: 'Starting', startTime: T0.toISOString() }),
      pod({ ready: true }),
      at(1),
    );
    const second = decide(pea({}, first.status), pod({ ready: true }), at(9));
    const ready = second.status.conditions?.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({
      status: 'True',
      lastTransitionTime: at(1).toISOString(),
      observedGeneration: 1,
    });
  });
});

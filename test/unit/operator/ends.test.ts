// Every way a run can end, told from the pod as the kubelet, the scheduler, the API server
// and the sidecar leave it: one row each, with who or what stopped the runtime.
import { describe, expect, it } from '@jest/globals';
import type { V1ContainerStateTerminated, V1Pod, V1PodCondition } from '@kubernetes/client-node';
import { goneAfterCancel, runEnd, type RunRecord } from '../../../src/operator/ends.js';

const T0 = new Date('2026-01-01T00:00:00Z');
const at = (s: number): Date => new Date(T0.getTime() + s * 1000);

interface PodState {
  runtime?: V1ContainerStateTerminated;
  /** The sidecar's termination message ("Reason: message"), once it stopped. */
  sidecar?: string;
  phase?: string;
  reason?: string;
  message?: string;
  deleting?: boolean;
  disruption?: Pick<V1PodCondition, 'reason' | 'message'>;
}

function pod(p: PodState): V1Pod {
  return {
    metadata: { name: 'm-pea', ...(p.deleting ? { deletionTimestamp: at(1) } : {}) },
    status: {
      phase: p.phase ?? 'Running',
      ...(p.reason ? { reason: p.reason } : {}),
      ...(p.message ? { message: p.message } : {}),
      conditions: p.disruption ? [{ type: 'DisruptionTarget', status: 'True', ...p.disruption }] : [],
      containerStatuses: [
        {
          name: 'runtime',
          image: 'i',
          imageID: '',
          ready: false,
          restartCount: 0,
          state: p.runtime ? { terminated: p.runtime } : { running: {} },
        },
      ],
      initContainerStatuses: [
        {
          name: 'pea-runtime',
          image: 'i',
          imageID: '',
          ready: false,
          restartCount: 0,
          state:
            p.sidecar !== undefined ? { terminated: { exitCode: 0, message: p.sidecar } } : { running: {} },
        },
      ],
    },
  };
}

const exit = (
  exitCode: number,
  more: Partial<V1ContainerStateTerminated> = {},
): V1ContainerStateTerminated => ({ exitCode, finishedAt: at(3), ...more });
const ready: RunRecord = { wasReady: true, teardownSeconds: 30 };
const cancelled: RunRecord = {
  ...ready,
  cancelTime: at(2).toISOString(),
  cancelDeadlineMs: at(17).getTime(),
};
const HOOK =
  "Cancelled: cancelled (preStop hook); exited (its exit code is in the runtime container's status)";

describe('how a run ended', () => {
  const rows: Array<[string, PodState, RunRecord, string, string, RegExp]> = [
    [
      'exited 0 by itself',
      { runtime: exit(0), phase: 'Succeeded' },
      ready,
      'Succeeded',
      'Completed',
      /finished by itself/,
    ],
    [
      'crashed after it was ready',
      { runtime: exit(3), phase: 'Failed' },
      ready,
      'Failed',
      'RunForeverError',
      /exited with code 3.*kubectl logs m-pea -c runtime/,
    ],
    [
      'crashed before it was ever ready',
      { runtime: exit(1, { message: 'init: no weights' }), phase: 'Failed' },
      { ...ready, wasReady: false },
      'Failed',
      'FailedToStart',
      /no weights/,
    ],
    [
      "the operator's Cancel stopped it (SIGTERM, 143)",
      { runtime: exit(143), phase: 'Failed' },
      cancelled,
      'Succeeded',
      'Cancelled',
      /cancelled/,
    ],
    [
      "the operator's Cancel, runtime exits 0",
      { runtime: exit(0, { message: 'Cancelled: bye' }), phase: 'Succeeded' },
      cancelled,
      'Succeeded',
      'Cancelled',
      /bye/,
    ],
    [
      'ignored SIGTERM and was killed after the cancel timeout',
      { runtime: exit(137), phase: 'Failed' },
      cancelled,
      'Failed',
      'CancelTimeout',
      /ignored SIGTERM/,
    ],
    [
      'stopped only after its pod was deleted at the cancel deadline',
      { runtime: exit(0, { finishedAt: at(20) }), phase: 'Succeeded', deleting: true },
      cancelled,
      'Failed',
      'CancelTimeout',
      /pod was deleted; it then exited 0/,
    ],
    [
      'OOMKilled',
      { runtime: exit(137, { reason: 'OOMKilled' }), phase: 'Failed' },
      ready,
      'Failed',
      'OOMKilled',
      /memory limit.*spec\.resources\.limits\.memory/,
    ],
    [
      'OOMKilled while being cancelled: the kernel stopped it',
      { runtime: exit(137, { reason: 'OOMKilled' }), phase: 'Failed' },
      cancelled,
      'Failed',
      'OOMKilled',
      /memory limit/,
    ],
    [
      'kubectl delete pod: its preStop hook cancelled it',
      { runtime: exit(0), phase: 'Succeeded', deleting: true },
      ready,
      'Failed',
      'PodDeleted',
      /deleted by someone else; its preStop hook cancelled the runtime, which exited 0/,
    ],
    [
      'kubectl drain (the Eviction API)',
      {
        runtime: exit(143),
        deleting: true,
        disruption: { reason: 'EvictionByEvictionAPI', message: 'Eviction API: evicting' },
      },
      ready,
      'Failed',
      'Evicted',
      /Eviction API, as kubectl drain does/,
    ],
    [
      'preempted by the scheduler',
      {
        runtime: exit(0),
        deleting: true,
        disruption: { reason: 'PreemptionByScheduler', message: 'preempted by default/big' },
      },
      ready,
      'Failed',
      'Preempted',
      /preempted.*default\/big/,
    ],
    [
      'a NoExecute taint',
      { runtime: exit(0), deleting: true, disruption: { reason: 'DeletionByTaintManager' } },
      ready,
      'Failed',
      'Evicted',
      /NoExecute taint/,
    ],
    [
      'the kubelet, under node pressure',
      {
        runtime: exit(137),
        phase: 'Failed',
        reason: 'Evicted',
        message: 'The node was low on resource: memory.',
      },
      ready,
      'Failed',
      'Evicted',
      /kubelet: The node was low on resource: memory/,
    ],
    [
      'the pod garbage collector (node gone)',
      { runtime: exit(0), deleting: true, disruption: { reason: 'DeletionByPodGC' } },
      ready,
      'Failed',
      'PodDeleted',
      /garbage collector/,
    ],
    [
      'the preStop endpoint called while nothing was being deleted',
      { runtime: exit(0), phase: 'Succeeded', sidecar: HOOK },
      ready,
      'Failed',
      'PreStopHook',
      /preStop hook endpoint.*neither the Pea nor pod m-pea/,
    ],
    [
      "the sidecar's teardown failed",
      {
        runtime: exit(0),
        phase: 'Succeeded',
        sidecar: 'TeardownFailed: runtime finished; teardown failed: exit 2',
      },
      ready,
      'Failed',
      'TeardownFailed',
      /teardown failed/,
    ],
    [
      'the pod ended without a state for its runtime',
      { phase: 'Failed', reason: 'NodeLost', message: 'node n1 is gone' },
      ready,
      'Failed',
      'Unknown',
      /unknown.*NodeLost: node n1 is gone|NodeLost: node n1 is gone.*unknown/,
    ],
  ];
  it.each(rows)('%s', (_what, state, run, phase, reason, message) => {
    const end = runEnd(pod(state), run, at(30));
    expect(end).toMatchObject({ phase, reason, message: expect.stringMatching(message) });
  });

  it("the Pea's own cancel is never restarted; every other end may be", () => {
    expect(runEnd(pod({ runtime: exit(143), phase: 'Failed' }), cancelled, at(30))).toMatchObject({
      byCancel: true,
    });
    expect(runEnd(pod({ runtime: exit(0), phase: 'Succeeded', sidecar: HOOK }), ready, at(30))).toMatchObject(
      { byCancel: false },
    );
  });

  it('is no end while the runtime runs, nor while the sidecar tears down within its budget', () => {
    expect(runEnd(pod({}), ready, at(30))).toBeUndefined();
    expect(runEnd(pod({ runtime: exit(0) }), ready, at(30))).toEqual({
      tearingDownUntilMs: at(3 + 30 + 10).getTime(),
    });
    // Past the teardown budget, what is known is told.
    expect(runEnd(pod({ runtime: exit(0) }), ready, at(44))).toMatchObject({ reason: 'Completed' });
  });

  it('a pod gone after a cancel: CancelTimeout only when the operator recorded that it deleted the pod for it', () => {
    const cancelTime = at(2).toISOString();
    expect(goneAfterCancel('m-pea', { cancelTime }, 10)).toMatchObject({
      phase: 'Succeeded',
      reason: 'Cancelled',
    });
    expect(goneAfterCancel('m-pea', { cancelTime, reason: 'CancelTimeout' }, 10)).toMatchObject({
      phase: 'Failed',
      reason: 'CancelTimeout',
      message: expect.stringContaining('(10s)'),
    });
    expect(goneAfterCancel('m-pea', {}, 10)).toMatchObject({
      phase: 'Succeeded',
      reason: 'Cancelled',
      message: expect.stringContaining('already gone'),
    });
  });
});

// status.timeline: the pod's own times, carried by status writes the operator makes anyway.
import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import type { Pea, PeaStatus } from '../../../src/api/v1alpha1/types.js';
import { decide } from '../../../src/operator/decide.js';
import { mergeTimeline, podTimeline } from '../../../src/operator/timeline.js';

const T0 = new Date('2026-01-01T00:00:00Z');
const at = (s: number): Date => new Date(T0.getTime() + s * 1000);
const iso = (s: number): string => at(s).toISOString().replace('.000Z', 'Z');

function pea(status?: PeaStatus): Pea {
  return {
    apiVersion: 'peapods.io/v1alpha1',
    kind: 'Pea',
    metadata: { name: 'p', namespace: 'ns', uid: 'u', generation: 1, finalizers: ['peapods.io/cancel'] },
    spec: { image: 'img', ready: { grpc: { port: 50061 } }, restartPolicy: 'Always' },
    ...(status ? { status } : {}),
  };
}

/** A pod at each step: 1 scheduled, 2 sidecar running, 3 runtime running, 4 ready, 5 runtime exited. */
function pod(step: number): V1Pod {
  const running = (s: number) => ({ running: { startedAt: at(s) } });
  return {
    metadata: { name: 'p-pea', creationTimestamp: T0 },
    status: {
      podIP: '10.0.0.5',
      conditions: [
        { type: 'PodScheduled', status: 'True', lastTransitionTime: at(1) },
        { type: 'Ready', status: step >= 4 ? 'True' : 'False', lastTransitionTime: at(step >= 4 ? 4 : 1) },
      ],
      initContainerStatuses: [
        {
          name: 'pea-runtime',
          image: 'i',
          imageID: '',
          ready: step >= 4,
          restartCount: 0,
          state: step >= 2 ? running(2) : { waiting: { reason: 'ContainerCreating' } },
        },
      ],
      containerStatuses: [
        {
          name: 'runtime',
          image: 'i',
          imageID: '',
          ready: step >= 4,
          restartCount: 0,
          state:
            step >= 5
              ? { terminated: { exitCode: 0, startedAt: at(3), finishedAt: at(5) } }
              : step >= 3
                ? running(3)
                : { waiting: { reason: 'PodInitializing' } },
        },
      ],
    },
  };
}

describe('status.timeline', () => {
  it('reads each step from the pod, in the kubelet and scheduler times', () => {
    expect(podTimeline(pod(4))).toEqual({
      podScheduledTime: iso(1),
      sidecarStartedTime: iso(2),
      runtimeStartedTime: iso(3),
      readyCheckTime: iso(4),
    });
  });

  it('never changes a time once written', () => {
    expect(
      mergeTimeline({ runtimeStartedTime: iso(3) }, { runtimeStartedTime: iso(9), teardownTime: iso(10) }),
    ).toEqual({ runtimeStartedTime: iso(3), teardownTime: iso(10) });
  });

  it('rides on a status the operator writes anyway: the first Starting, then Ready', () => {
    const first = decide(pea(), pod(3), at(3));
    expect(first.status.phase).toBe('Starting');
    expect(first.status.timeline).toEqual({
      podScheduledTime: iso(1),
      sidecarStartedTime: iso(2),
      runtimeStartedTime: iso(3),
    });
    const ready = decide(pea(first.status), pod(4), at(4));
    expect(ready.status.phase).toBe('Ready');
    expect(ready.status.timeline?.readyCheckTime).toBe(iso(4));
    expect(ready.status.timeline?.runtimeStartedTime).toBe(iso(3));
  });

  it('costs no write of its own: a new step alone leaves the status as it was', () => {
    const first = decide(pea(), pod(3), at(3));
    // The same status, without the timeline the pod would now add: decide() must not add it.
    const { timeline: _, ...without } = first.status;
    void _;
    const again = decide(pea(without), pod(3), at(3.5));
    expect(again.status).toEqual(without);
  });

  it('is cleared for the next run on a restart, the run that ended kept in lastTermination', () => {
    const ready = decide(pea(), pod(4), at(4));
    const ended = decide(
      pea(ready.status),
      { ...pod(5), status: { ...pod(5).status, phase: 'Succeeded' } },
      at(20),
    );
    expect(ended.status.phase).toBe('Pending');
    expect(ended.status.restartCount).toBe(1);
    expect(ended.status.timeline).toBeUndefined();
  });

  it('drops a garbled timeline instead of failing on it', () => {
    const d = decide(
      pea({ phase: 'Starting', startTime: iso(0), timeline: { runtimeStartedTime: 'soon' } }),
      pod(3),
      at(3),
    );
    expect(d.status.timeline?.runtimeStartedTime).toBe(iso(3));
    expect(d.events.some((e) => /status\.timeline/.test(e.message))).toBe(true);
  });
});

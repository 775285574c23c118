// What the informers cache of a pod or a Pea (trimPod, trimPea): smaller objects, and the
// same decisions. Each row is a pod as a real kubelet writes it, spec and managedFields
// included; decide() must give the same Decision on it and on its trimmed copy.
import { describe, expect, it } from '@jest/globals';
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import type { Pea, PeaStatus } from '../../../src/api/v1alpha1/types.js';
import { decide } from '../../../src/operator/decide.js';
import { buildPod, trimPea, trimPod } from '../../../src/operator/pod.js';

const T0 = new Date('2026-01-01T00:00:00Z');
const at = (s: number): Date => new Date(T0.getTime() + s * 1000);

function pea(status?: PeaStatus, spec: Partial<Pea['spec']> = {}): Pea {
  return {
    apiVersion: 'peapods.io/v1alpha1',
    kind: 'Pea',
    metadata: { name: 'p', namespace: 'ns', uid: 'u', generation: 1, resourceVersion: '7' },
    spec: { image: 'img', timeouts: { readySeconds: 60, cancelSeconds: 10, teardownSeconds: 30 }, ...spec },
    ...(status ? { status } : {}),
  };
}

const container = (name: string, extra: Partial<V1ContainerStatus>): V1ContainerStatus => ({
  name,
  image: 'registry.example.com/team/model:1',
  imageID: 'registry.example.com/team/model@sha256:0123456789abcdef',
  containerID: 'containerd://0123456789abcdef0123456789abcdef',
  ready: false,
  restartCount: 0,
  started: true,
  ...extra,
});

/** A pod as the API server returns it: the operator's spec, managedFields, and this status. */
function full(status: V1Pod['status'], meta: Partial<NonNullable<V1Pod['metadata']>> = {}): V1Pod {
  const pod = buildPod(pea(), 'hook');
  return {
    ...pod,
    metadata: {
      ...pod.metadata,
      uid: 'pod-uid',
      resourceVersion: '11',
      creationTimestamp: T0,
      ownerReferences: pod.metadata!.ownerReferences!.map((r) => ({ ...r, uid: 'u' })),
      managedFields: [{ manager: 'kubelet', operation: 'Update', fieldsType: 'FieldsV1', fieldsV1: {} }],
      ...meta,
    },
    status: { hostIP: '10.0.0.1', qosClass: 'Burstable', startTime: T0, ...status },
  };
}

const starting = { phase: 'Starting' as const, podName: 'p-pea', startTime: T0.toISOString() };
const ready = { ...starting, phase: 'Ready' as const, readyTime: T0.toISOString() };

const rows: Array<[string, Pea, V1Pod]> = [
  [
    'unschedulable',
    pea(starting),
    full({
      phase: 'Pending',
      conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes' }],
    }),
  ],
  [
    'image pull back-off',
    pea(starting),
    full({
      phase: 'Pending',
      conditions: [{ type: 'PodScheduled', status: 'True' }],
      initContainerStatuses: [
        container('pea-runtime', { state: { waiting: { reason: 'ImagePullBackOff', message: 'back-off' } } }),
      ],
    }),
  ],
  [
    'ready',
    pea(starting),
    full({
      phase: 'Running',
      podIP: '10.244.0.5',
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: T0 }],
      initContainerStatuses: [
        container('pea-runtime', { ready: true, state: { running: { startedAt: T0 } } }),
      ],
      containerStatuses: [container('runtime', { ready: true, state: { running: { startedAt: T0 } } })],
    }),
  ],
  [
    'a sidecar that restarted',
    pea(ready),
    full({
      phase: 'Running',
      podIP: '10.244.0.5',
      conditions: [{ type: 'Ready', status: 'False' }],
      initContainerStatuses: [
        container('pea-runtime', {
          restartCount: 2,
          state: { running: { startedAt: T0 } },
          lastState: { terminated: { exitCode: 1, reason: 'Error', startedAt: T0, finishedAt: T0 } },
        }),
      ],
      containerStatuses: [container('runtime', { state: { running: { startedAt: T0 } } })],
    }),
  ],
  [
    'a runtime that failed, its sidecar done',
    pea(ready),
    full({
      phase: 'Failed',
      initContainerStatuses: [
        container('pea-runtime', {
          state: { terminated: { exitCode: 1, message: 'RunForeverError: boom', finishedAt: at(3) } },
        }),
      ],
      containerStatuses: [
        container('runtime', { state: { terminated: { exitCode: 3, reason: 'Error', finishedAt: at(2) } } }),
      ],
    }),
  ],
  [
    'evicted by drain',
    pea(ready),
    full(
      {
        phase: 'Failed',
        conditions: [
          { type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI', message: 'drain' },
        ],
        containerStatuses: [
          container('runtime', { state: { terminated: { exitCode: 143, finishedAt: at(2) } } }),
        ],
      },
      { deletionTimestamp: at(1) },
    ),
  ],
];

describe('trimPod', () => {
  it.each(rows)('%s: the same decision on the trimmed pod', (_n, p, pod) => {
    expect(decide(p, trimPod(pod), at(5))).toEqual(decide(p, pod, at(5)));
  });

  it('keeps neither spec nor managedFields nor what no decision reads, and is much smaller', () => {
    const pod = rows[2]![2];
    const trimmed = trimPod(pod);
    expect(trimmed.spec).toBeUndefined();
    expect(trimmed.metadata?.managedFields).toBeUndefined();
    expect(trimmed.status?.containerStatuses?.[0]).toEqual({
      name: 'runtime',
      ready: true,
      restartCount: 0,
      state: { running: { startedAt: pod.status?.containerStatuses?.[0]?.state?.running?.startedAt } },
    });
    expect(trimmed.metadata?.labels).toEqual({ 'peapods.io/pea': 'p' });
    expect(JSON.stringify(trimmed).length * 4).toBeLessThan(JSON.stringify(pod).length);
  });
});

describe('trimPea', () => {
  it("drops managedFields and kubectl's last-applied copy, and keeps every other annotation and field", () => {
    const p = pea(ready);
    const applied = {
      ...p,
      metadata: {
        ...p.metadata,
        finalizers: ['example.com/keep'],
        annotations: {
          'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify(p),
          'example.com/team': 'ml',
        },
        managedFields: [{ manager: 'kubectl', operation: 'Apply' }],
      },
    } as Pea;
    expect(trimPea(applied)).toEqual({
      ...p,
      metadata: {
        ...p.metadata,
        finalizers: ['example.com/keep'],
        annotations: { 'example.com/team': 'ml' },
      },
    });
    expect(trimPea(p)).toEqual(p);
  });
});

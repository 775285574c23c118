// What a Starting Pea says while its pod waits, and how it fails when the wait lasts, with
// the operator as a real process on a real API server. No scheduler or kubelet runs here:
// the test writes the pod status as they would (the PodScheduled condition, container
// statuses with the kubelet's waiting reasons and messages).
import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import type { Pea } from '../../src/api/v1alpha1/types.js';
import { operatorSuite } from '../harness/suites.js';
import { until } from '../helpers/processes.js';

const NS = 'waits';
const s = operatorSuite(NS);
const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

const ready = (p: Pea) => p.status?.conditions?.find((c) => c.type === 'Ready');
const INSUFFICIENT =
  '0/3 nodes are available: 3 Insufficient cpu. ' +
  'preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.';
const NO_HOST =
  'failed to pull and unpack image "registry.invalid/nope:1": ' +
  'dial tcp: lookup registry.invalid: no such host';
const BAD_NAME =
  'Failed to apply default image tag "registry.invalid/NOPE:1": couldn\'t parse image name ' +
  '"registry.invalid/NOPE:1": invalid reference format: repository name (NOPE) must be lowercase';

/** The scheduler's or kubelet's part: write the pod's status. */
async function podStatus(pod: k8s.V1Pod, status: k8s.V1PodStatus): Promise<void> {
  await s.cluster.core.patchNamespacedPodStatus(
    { name: pod.metadata!.name!, namespace: NS, body: { status } },
    MERGE,
  );
}

function container(name: string, state: k8s.V1ContainerState, ready: boolean): k8s.V1ContainerStatus {
  return {
    name,
    image: name === 'runtime' ? 'registry.invalid/nope:1' : 'peapods/peapods:dev',
    imageID: '',
    ready,
    restartCount: 0,
    started: Boolean(state.running),
    state,
  };
}

/** Scheduled, the sidecar running, the runtime container in `state`, as the kubelet reports it. */
function kubelet(state: k8s.V1ContainerState, podReady = false): k8s.V1PodStatus {
  const now = new Date();
  return {
    phase: state.running ? 'Running' : 'Pending',
    podIP: '127.0.0.1',
    podIPs: [{ ip: '127.0.0.1' }],
    startTime: now,
    conditions: [
      { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
      { type: 'Ready', status: podReady ? 'True' : 'False', lastTransitionTime: now },
    ],
    initContainerStatuses: [container('pea-runtime', { running: { startedAt: now } }, podReady)],
    containerStatuses: [container('runtime', state, Boolean(state.running))],
  };
}

function unschedulable(at: Date): k8s.V1PodStatus {
  const scheduled = { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: INSUFFICIENT };
  return { phase: 'Pending', conditions: [{ ...scheduled, lastTransitionTime: at }] };
}

function pulling(reason: 'ErrImagePull' | 'ImagePullBackOff'): k8s.V1ContainerState {
  const backOff = `Back-off pulling image "registry.invalid/nope:1": ErrImagePull: ${NO_HOST}`;
  return { waiting: { reason, message: reason === 'ErrImagePull' ? NO_HOST : backOff } };
}

/** The Pea's Warning Events with one of `reasons`, as `kubectl describe pea` lists them. */
async function warnings(pea: string, ...reasons: string[]): Promise<k8s.CoreV1Event[]> {
  const fieldSelector = `involvedObject.name=${pea}`;
  const events = await s.cluster.core.listNamespacedEvent({ namespace: NS, fieldSelector });
  return events.items.filter((e) => e.type === 'Warning' && reasons.includes(e.reason ?? ''));
}

/** The Warnings of the wait itself, not the one for the Pea's end. */
const whileWaiting = (events: k8s.CoreV1Event[]) =>
  events.filter((e) => !e.message?.startsWith('the runtime was not ready'));

/** Until the pod is gone or going (no kubelet runs here to finish a graceful delete). */
async function podDeleted(pea: string): Promise<void> {
  const going = async (): Promise<boolean> =>
    (await s.cluster.podsOf(pea)).every((p) => p.metadata?.deletionTimestamp);
  await until(`the pod of ${pea} deleted`, going, 60_000);
}

describe('a Starting Pea names what its pod waits on', () => {
  it("an unschedulable pod: the scheduler's words while it waits, one Warning, then Unschedulable", async () => {
    await s.cluster.createPea('crowded', {
      resources: { requests: { cpu: '64' } },
      timeouts: { readySeconds: 6 },
    });
    const pod = await s.cluster.podOf('crowded');
    await podStatus(pod, unschedulable(new Date()));
    const waiting = await s.cluster.peaUntil(
      'crowded',
      'the wait named',
      (p) => ready(p)?.reason === 'Unschedulable',
    );
    expect(waiting.status?.phase).toBe('Starting');
    expect(ready(waiting)?.message).toContain('3 Insufficient cpu');
    expect(ready(waiting)?.message).toContain('lower the requests in spec.resources');
    // The scheduler writes its condition again on each retry: still one Warning.
    await podStatus(pod, unschedulable(new Date(Date.now() + 1000)));
    const failed = await s.cluster.peaUntil('crowded', 'Failed', (p) => p.status?.phase === 'Failed');
    expect(failed.status?.reason).toBe('Unschedulable');
    const after =
      /^the runtime was not ready after \d+s \(spec\.timeouts\.readySeconds is 6\) and its pod was deleted/;
    expect(failed.status?.message).toMatch(after);
    expect(failed.status?.message).toContain('the scheduler cannot place');
    expect(failed.status?.message).not.toContain('raise spec.timeouts.readySeconds');
    await podDeleted('crowded');
    // One while it waited, one for the end.
    const seen = await until(
      'both Warnings',
      async () => {
        const events = await warnings('crowded', 'Unschedulable');
        return events.length >= 2 ? events : undefined;
      },
      60_000,
    );
    expect(seen).toHaveLength(2);
    expect(whileWaiting(seen)).toHaveLength(1);
  });

  it("an unpullable image: the kubelet's words while it retries, one Warning, then it fails with them", async () => {
    await s.cluster.createPea('unpullable', {
      image: 'registry.invalid/nope:1',
      timeouts: { readySeconds: 6 },
    });
    const pod = await s.cluster.podOf('unpullable');
    await podStatus(pod, kubelet(pulling('ErrImagePull')));
    const first = await s.cluster.peaUntil(
      'unpullable',
      'ErrImagePull',
      (p) => ready(p)?.reason === 'ErrImagePull',
    );
    expect(ready(first)?.message).toContain('no such host');
    expect(ready(first)?.message).toContain('spec.pod.imagePullSecrets');
    // The kubelet alternates the two on every retry.
    await podStatus(pod, kubelet(pulling('ImagePullBackOff')));
    await s.cluster.peaUntil(
      'unpullable',
      'ImagePullBackOff named',
      (p) => ready(p)?.reason === 'ImagePullBackOff',
    );
    await podStatus(pod, kubelet(pulling('ErrImagePull')));
    const failed = await s.cluster.peaUntil('unpullable', 'Failed', (p) => p.status?.phase === 'Failed');
    expect(failed.status?.reason).toMatch(/^(ErrImagePull|ImagePullBackOff)$/);
    expect(failed.status?.message).toContain('spec.pod.imagePullSecrets');
    await podDeleted('unpullable');
    const waits = whileWaiting(await warnings('unpullable', 'ErrImagePull', 'ImagePullBackOff'));
    expect(waits.map((e) => e.reason)).toEqual(['ErrImagePull']);
  });

  it('an image reference that cannot parse fails at once as InvalidImageName, its pod deleted', async () => {
    await s.cluster.createPea('bad-name', { image: 'registry.invalid/NOPE:1' });
    const pod = await s.cluster.podOf('bad-name');
    await podStatus(pod, kubelet({ waiting: { reason: 'InvalidImageName', message: BAD_NAME } }));
    const failed = await s.cluster.peaUntil('bad-name', 'Failed', (p) => p.status?.phase === 'Failed');
    expect(failed.status?.reason).toBe('InvalidImageName');
    expect(failed.status?.message).toContain('must be lowercase');
    const finished = failed.status?.conditions?.find((c) => c.type === 'Finished');
    expect(finished).toMatchObject({ status: 'True', reason: 'InvalidImageName' });
    await podDeleted('bad-name');
  });

  it('a missing Secret (CreateContainerConfigError) heals when it appears: the Pea becomes Ready', async () => {
    const env = [{ name: 'KEY', valueFrom: { secretKeyRef: { name: 'model-key', key: 'key' } } }];
    await s.cluster.createPea('needs-key', { env });
    const pod = await s.cluster.podOf('needs-key');
    const reason = 'CreateContainerConfigError';
    await podStatus(pod, kubelet({ waiting: { reason, message: 'secret "model-key" not found' } }));
    const waiting = await s.cluster.peaUntil(
      'needs-key',
      'the wait named',
      (p) => ready(p)?.reason === reason,
    );
    expect(ready(waiting)?.message).toContain('secret "model-key" not found');
    expect(waiting.status?.phase).toBe('Starting');
    await podStatus(pod, kubelet({ running: { startedAt: new Date() } }));
    const notYet = await s.cluster.peaUntil(
      'needs-key',
      'not ready',
      (p) => ready(p)?.reason === 'RuntimeNotReady',
    );
    expect(ready(notYet)?.message).toContain('kubectl logs needs-key-pea -c runtime');
    await podStatus(pod, kubelet({ running: { startedAt: new Date() } }, true));
    const done = await s.cluster.peaUntil('needs-key', 'Ready', (p) => p.status?.phase === 'Ready');
    expect(ready(done)?.status).toBe('True');
    expect(await warnings('needs-key', 'CreateContainerConfigError')).toHaveLength(1);
  });
});

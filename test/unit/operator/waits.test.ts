// podWait() is pure: each row is a pod as the informer caches it (metadata and status, as
// the scheduler and the kubelet write them) and what the Pea must say about it.
import { describe, expect, it } from '@jest/globals';
import type { V1ContainerState, V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import type { ReadyProbe } from '../../../src/api/v1alpha1/types.js';
import { podWait, readyCheckWords, sameTrouble, timedOut, type PodWait } from '../../../src/operator/waits.js';

type Scheduled = { status: 'True' | 'False'; reason?: string; message?: string };

function pod(o: { scheduled?: Scheduled; sidecar?: V1ContainerState; runtime?: V1ContainerState } = {}): V1Pod {
  const status = (name: string, state: V1ContainerState): V1ContainerStatus => ({ name, image: 'img', imageID: '', ready: false, restartCount: 0, state });
  return {
    metadata: { name: 'm-pea' },
    status: {
      phase: 'Pending',
      ...(o.scheduled ? { conditions: [{ type: 'PodScheduled', ...o.scheduled }] } : {}),
      ...(o.sidecar ? { initContainerStatuses: [status('pea-runtime', o.sidecar)] } : {}),
      ...(o.runtime ? { containerStatuses: [status('runtime', o.runtime)] } : {}),
    },
  };
}

const scheduled: Scheduled = { status: 'True' };
const waiting = (reason: string, message?: string): V1ContainerState => ({ waiting: { reason, ...(message ? { message } : {}) } });
const running: V1ContainerState = { running: { startedAt: new Date() } };
const INSUFFICIENT = '0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.';
const PULL = 'failed to pull and unpack image "registry.invalid/nope:1": dial tcp: lookup registry.invalid: no such host';
const BAD_NAME = 'Failed to apply default image tag "registry.invalid/NOPE:1": couldn\'t parse image name: invalid reference format: repository name must be lowercase';

// reason, problem, permanent, cause (fails with its own reason at readySeconds), words the message must hold
type Row = [string, V1Pod, string, boolean, boolean, boolean, string[]];

describe('podWait', () => {
  it.each<Row>([
    ['a new pod no scheduler has seen', pod(), 'NotScheduled', false, false, true, ['waits for the scheduler', 'scheduler runs']],
    ['no node has room', pod({ scheduled: { status: 'False', reason: 'Unschedulable', message: INSUFFICIENT } }),
      'Unschedulable', true, false, true, ['the scheduler cannot place pod m-pea', '1 Insufficient cpu', 'lower the requests in spec.resources', 'add a node']],
    ['scheduling gated', pod({ scheduled: { status: 'False', reason: 'SchedulingGated', message: 'Scheduling is blocked due to non-empty scheduling gates' } }),
      'SchedulingGated', false, false, true, ['not scheduled yet (SchedulingGated)', 'scheduling gates']],
    ['scheduled, no container status yet', pod({ scheduled }), 'ContainerCreating', false, false, true, ['creating its containers', 'kubectl get events --field-selector involvedObject.name=m-pea']],
    ['the sidecar being created', pod({ scheduled, sidecar: waiting('PodInitializing'), runtime: waiting('PodInitializing') }),
      'ContainerCreating', false, false, true, ['the runtime sidecar container pea-runtime', 'Secret or ConfigMap']],
    ['the sidecar runs, the runtime not yet', pod({ scheduled, sidecar: running, runtime: waiting('PodInitializing') }),
      'PodInitializing', false, false, true, ['sidecar pea-runtime of pod m-pea is starting', 'kubectl logs m-pea -c pea-runtime']],
    ['the runtime container being created', pod({ scheduled, sidecar: running, runtime: waiting('ContainerCreating') }),
      'ContainerCreating', false, false, true, ['creating the runtime container of pod m-pea', 'spec.timeouts.readySeconds']],
    ['the runtime image cannot be pulled', pod({ scheduled, sidecar: running, runtime: waiting('ErrImagePull', PULL) }),
      'ErrImagePull', true, false, true, ['cannot pull the image of the runtime container', 'no such host', 'fix spec.image', 'spec.pod.imagePullSecrets']],
    ['the kubelet backs off the pull', pod({ scheduled, sidecar: running, runtime: waiting('ImagePullBackOff', `Back-off pulling image "registry.invalid/nope:1": ErrImagePull: ${PULL}`) }),
      'ImagePullBackOff', true, false, true, ['Back-off pulling image', 'spec.pod.imagePullSecrets']],
    ['the sidecar image cannot be pulled', pod({ scheduled, sidecar: waiting('ErrImagePull', PULL), runtime: waiting('PodInitializing') }),
      'ErrImagePull', true, false, true, ['the runtime sidecar container pea-runtime', '--sidecar-image', 'sidecar.image']],
    ['an image reference that cannot parse', pod({ scheduled, sidecar: running, runtime: waiting('InvalidImageName', BAD_NAME) }),
      'InvalidImageName', true, true, true, ['not a valid image reference', 'must be lowercase', 'cannot heal', 'valid spec.image']],
    ['a Secret that spec.env names is missing', pod({ scheduled, sidecar: running, runtime: waiting('CreateContainerConfigError', 'secret "model-key" not found') }),
      'CreateContainerConfigError', true, false, true, ['cannot configure the runtime container', 'secret "model-key" not found', 'create the Secret or ConfigMap', 'spec.env']],
    ['the container runtime cannot create it', pod({ scheduled, sidecar: running, runtime: waiting('CreateContainerError', 'mount path must be absolute') }),
      'CreateContainerError', true, false, true, ['cannot create or start the runtime container', 'mount path must be absolute', 'volumeMounts']],
    ['the sidecar\'s postStart hook failed', pod({ scheduled, sidecar: waiting('PostStartHookError', 'exit code 1'), runtime: waiting('PodInitializing') }),
      'PostStartHookError', true, false, true, ['the runtime sidecar container pea-runtime', 'kubectl logs m-pea -c pea-runtime']],
    ['the sidecar crash-loops', pod({ scheduled, sidecar: waiting('CrashLoopBackOff', 'back-off 20s restarting failed container=pea-runtime'), runtime: waiting('PodInitializing') }),
      'CrashLoopBackOff', true, false, true, ['keeps exiting', 'kubectl logs m-pea -c pea-runtime --previous']],
    ['a waiting reason this code does not know', pod({ scheduled, sidecar: running, runtime: waiting('SomethingNew', 'the kubelet says so') }),
      'SomethingNew', false, false, true, ['is waiting (the kubelet says so)', 'kubectl get events']],
    ['the runtime runs, not ready yet', pod({ scheduled, sidecar: running, runtime: running }),
      'RuntimeNotReady', false, false, false, ['running but does not pass its ready check yet', 'grpc.health.v1 Check on port 50061', 'kubectl logs m-pea -c runtime', 'kubectl logs m-pea -c pea-runtime']],
  ])('%s', (_n, p, reason, problem, permanent, cause, words) => {
    const w = podWait(p, { grpc: { port: 50061 } });
    expect(w).toMatchObject({ reason, problem, permanent, cause });
    for (const word of words) expect(w.message).toContain(word);
    expect(w.message.length).toBeLessThanOrEqual(1024);
  });

  it('the scheduler comes first: an unschedulable pod has no containers to speak of', () => {
    const p = pod({ scheduled: { status: 'False', reason: 'Unschedulable', message: INSUFFICIENT }, runtime: waiting('ContainerCreating') });
    expect(podWait(p, undefined).reason).toBe('Unschedulable');
  });

  it('the sidecar comes before the runtime: it starts first', () => {
    const p = pod({ scheduled, sidecar: waiting('ErrImagePull', PULL), runtime: waiting('InvalidImageName', BAD_NAME) });
    expect(podWait(p, undefined)).toMatchObject({ reason: 'ErrImagePull', message: expect.stringContaining('pea-runtime') });
  });

  it('cuts a long kubelet message, and keeps the advice after it', () => {
    const w = podWait(pod({ scheduled, sidecar: running, runtime: waiting('ErrImagePull', 'x'.repeat(5000)) }), undefined);
    expect(w.message.length).toBeLessThanOrEqual(1024);
    expect(w.message).toContain('…');
    expect(w.message).toContain('spec.pod.imagePullSecrets');
  });
});

describe('timedOut', () => {
  const wait = (o: Partial<PodWait>): PodWait => ({ reason: 'RuntimeNotReady', message: 'm', problem: false, permanent: false, cause: false, ...o });

  it('a runtime that ran but never passed its check: ReadyTimeout, raise the timeout, naming the check', () => {
    const end = timedOut(wait({}), { http: { port: 8080, path: '/healthz' } }, 61, 60);
    expect(end.reason).toBe('ReadyTimeout');
    expect(end.message).toMatch(/^the runtime was not ready after 61s \(spec\.timeouts\.readySeconds is 60\); raise spec\.timeouts\.readySeconds/);
    expect(end.message).toContain('HTTP GET /healthz on port 8080');
  });

  it('a pod stuck on a named cause fails with that cause, not the advice to wait longer', () => {
    const end = timedOut(wait({ reason: 'ImagePullBackOff', message: 'cannot pull; add spec.pod.imagePullSecrets', problem: true, cause: true }), undefined, 30, 30);
    expect(end).toEqual({ reason: 'ImagePullBackOff', message: 'the runtime was not ready after 30s (spec.timeouts.readySeconds is 30) and its pod was deleted: cannot pull; add spec.pod.imagePullSecrets' });
    expect(end.message).not.toContain('raise');
  });
});

describe('sameTrouble', () => {
  it.each([
    [undefined, 'ErrImagePull', false],
    ['Starting', 'ErrImagePull', false],
    ['ErrImagePull', 'ImagePullBackOff', true], // the kubelet alternates these on every retry
    ['ImagePullBackOff', 'ErrImagePull', true],
    ['Unschedulable', 'Unschedulable', true],
    ['ContainerCreating', 'CreateContainerConfigError', false],
    ['ErrImagePull', 'CreateContainerConfigError', false],
  ])('%s → %s: %s', (before, after, same) => {
    expect(sameTrouble(before, after)).toBe(same);
  });
});

describe('readyCheckWords', () => {
  it.each<[ReadyProbe | undefined, string]>([
    [undefined, 'none: ready as soon as it runs'],
    [{ none: {} }, 'none: ready as soon as it runs'],
    [{ grpc: { port: 50061 } }, 'grpc.health.v1 Check on port 50061 answering SERVING'],
    [{ grpc: { port: 9, service: 'model' } }, 'grpc.health.v1 Check of service "model" on port 9 answering SERVING'],
    [{ http: { port: 8080 } }, 'HTTP GET / on port 8080 answering 2xx or 3xx'],
    [{ tcp: { port: 6379 } }, 'a TCP connection to port 6379'],
  ])('%j', (ready, words) => {
    expect(readyCheckWords(ready)).toBe(words);
  });
});

// podWait() is pure: each row is a pod as the informer caches it (metadata and status, as
// the scheduler and the kubelet write them) and what the Pea must say about it.
import { describe, expect, it } from '@jest/globals';
import type { V1ContainerState, V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import type { ReadyProbe } from '../../../src/api/v1alpha1/types.js';
import {
  podWait,
  readyCheckWords,
  sameTrouble,
  timedOut,
  type PodWait,
} from '../../../src/operator/waits.js';

type Scheduled = { status: 'True' | 'False'; reason?: string; message?: string };

function pod(
  o: { scheduled?: Scheduled; sidecar?: V1ContainerState; runtime?: V1ContainerState } = {},
): V1Pod {
  const status = (name: string, state: V1ContainerState): V1ContainerStatus => ({
    name,
    image: 'img',
    imageID: '',
    ready: false,
    restartCount: 0,
    state,
  });
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
const waiting = (reason: string, message?: string): V1ContainerState => ({
  waiting: { reason, ...(message ? { message } : {}) },
});
const running: V1ContainerState = { running: { startedAt: new Date() } };
const INSUFFICIENT =
  '0/1 nodes are available: 1 Insufficient cpu. ' +
  'preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.';
const PULL =
  'failed to pull and unpack image "registry.invalid/nope:1": ' +
  'dial tcp: lookup registry.invalid: no such host';
const BAD_NAME =
  'Failed to apply default image tag "registry.invalid/NOPE:1": couldn\'t parse image name: ' +
  'invalid reference format: repository name must be lowercase';

// reason, problem, permanent, cause (fails with its own reason at readySeconds), words the message must hold
type Row = [string, V1Pod, string, boolean, boolean, boolean, string[]];

describe('podWait', () => {
  const unschedulable: Scheduled = { status: 'False', reason: 'Unschedulable', message: INSUFFICIENT };
  const gated: Scheduled = {
    status: 'False',
    reason: 'SchedulingGated',
    message: 'Scheduling is blocked due to non-empty scheduling gates',
  };
  const backOff = `Back-off pulling image "registry.invalid/nope:1": ErrImagePull: ${PULL}`;
  /** The sidecar runs; the runtime container is in `runtime`. */
  const runtimeIn = (runtime: V1ContainerState): V1Pod => pod({ scheduled, sidecar: running, runtime });
  /** The sidecar is in `sidecar`; the runtime container waits for it. */
  const sidecarIn = (sidecar: V1ContainerState): V1Pod =>
    pod({ scheduled, sidecar, runtime: waiting('PodInitializing') });
  const sidecarLogs = 'kubectl logs m-pea -c pea-runtime';
  const theSidecar = 'the runtime sidecar container pea-runtime';
  const noSecret = 'secret "model-key" not found';
  const crashing = 'back-off 20s restarting failed container=pea-runtime';
  it.each<Row>([
    [
      'a new pod no scheduler has seen',
      pod(),
      'NotScheduled',
      false,
      false,
      true,
      ['waits for the scheduler', 'scheduler runs'],
    ],
    [
      'no node has room',
      pod({ scheduled: unschedulable }),
      'Unschedulable',
      true,
      false,
      true,
      ['the scheduler cannot place pod m-pea', '1 Insufficient cpu', 'lower the requests in spec.resources'],
    ],
    [
      'scheduling gated',
      pod({ scheduled: gated }),
      'SchedulingGated',
      false,
      false,
      true,
      ['not scheduled yet (SchedulingGated)', 'scheduling gates'],
    ],
    [
      'scheduled, no container status yet',
      pod({ scheduled }),
      'ContainerCreating',
      false,
      false,
      true,
      ['creating its containers', 'kubectl get events --field-selector involvedObject.name=m-pea'],
    ],
    [
      'the sidecar being created',
      sidecarIn(waiting('PodInitializing')),
      'ContainerCreating',
      false,
      false,
      true,
      [theSidecar, 'Secret or ConfigMap'],
    ],
    [
      'the sidecar runs, the runtime not yet',
      runtimeIn(waiting('PodInitializing')),
      'PodInitializing',
      false,
      false,
      true,
      ['sidecar pea-runtime of pod m-pea is starting', sidecarLogs],
    ],
    [
      'the runtime container being created',
      runtimeIn(waiting('ContainerCreating')),
      'ContainerCreating',
      false,
      false,
      true,
      ['creating the runtime container of pod m-pea', 'readySeconds'],
    ],
    [
      'the runtime image cannot be pulled',
      runtimeIn(waiting('ErrImagePull', PULL)),
      'ErrImagePull',
      true,
      false,
      true,
      [
        'cannot pull the image of the runtime container',
        'no such host',
        'spec.image',
        'spec.pod.imagePullSecrets',
      ],
    ],
    [
      'the kubelet backs off the pull',
      runtimeIn(waiting('ImagePullBackOff', backOff)),
      'ImagePullBackOff',
      true,
      false,
      true,
      ['Back-off pulling image', 'spec.pod.imagePullSecrets'],
    ],
    [
      'the sidecar image cannot be pulled',
      sidecarIn(waiting('ErrImagePull', PULL)),
      'ErrImagePull',
      true,
      false,
      true,
      [theSidecar, '--sidecar-image', 'sidecar.image'],
    ],
    [
      'an image reference that cannot parse',
      runtimeIn(waiting('InvalidImageName', BAD_NAME)),
      'InvalidImageName',
      true,
      true,
      true,
      ['not a valid image reference', 'must be lowercase', 'cannot heal', 'valid spec.image'],
    ],
    [
      'a Secret that spec.env names is missing',
      runtimeIn(waiting('CreateContainerConfigError', noSecret)),
      'CreateContainerConfigError',
      true,
      false,
      true,
      ['cannot configure the runtime container', noSecret, 'create the Secret or ConfigMap', 'spec.env'],
    ],
    [
      'the container runtime cannot create it',
      runtimeIn(waiting('CreateContainerError', 'mount path is not absolute')),
      'CreateContainerError',
      true,
      false,
      true,
      ['cannot create or start the runtime container', 'mount path is not absolute', 'volumeMounts'],
    ],
    [
      "the sidecar's postStart hook failed",
      sidecarIn(waiting('PostStartHookError', 'exit code 1')),
      'PostStartHookError',
      true,
      false,
      true,
      [theSidecar, sidecarLogs],
    ],
    [
      'the sidecar crash-loops',
      sidecarIn(waiting('CrashLoopBackOff', crashing)),
      'CrashLoopBackOff',
      true,
      false,
      true,
      ['keeps exiting', `${sidecarLogs} --previous`],
    ],
    [
      'a waiting reason this code does not know',
      runtimeIn(waiting('SomethingNew', 'the kubelet says so')),
      'SomethingNew',
      false,
      false,
      true,
      ['is waiting (the kubelet says so)', 'kubectl get events'],
    ],
    [
      'the runtime runs, not ready yet',
      runtimeIn(running),
      'RuntimeNotReady',
      false,
      false,
      false,
      [
        'does not pass its ready check',
        'grpc.health.v1 Check on port 50061',
        'logs m-pea -c runtime',
        sidecarLogs,
      ],
    ],
  ])('%s', (_n, p, reason, problem, permanent, cause, words) => {
    const w = podWait(p, { grpc: { port: 50061 } });
    expect(w).toMatchObject({ reason, problem, permanent, cause });
    for (const word of words) expect(w.message).toContain(word);
    expect(w.message.length).toBeLessThanOrEqual(1024);
  });

  it('the scheduler comes first: an unschedulable pod has no containers to speak of', () => {
    const p = pod({ scheduled: unschedulable, runtime: waiting('ContainerCreating') });
    expect(podWait(p, undefined).reason).toBe('Unschedulable');
  });

  it('the sidecar comes before the runtime: it starts first', () => {
    const p = pod({
      scheduled,
      sidecar: waiting('ErrImagePull', PULL),
      runtime: waiting('InvalidImageName', BAD_NAME),
    });
    expect(podWait(p, undefined)).toMatchObject({
      reason: 'ErrImagePull',
      message: expect.stringContaining(theSidecar),
    });
  });

  it('cuts a long kubelet message, and keeps the advice after it', () => {
    const p = runtimeIn(waiting('ErrImagePull', 'x'.repeat(5000)));
    const w = podWait(p, undefined);
    expect(w.message.length).toBeLessThanOrEqual(1024);
    expect(w.message).toContain('…');
    expect(w.message).toContain('spec.pod.imagePullSecrets');
  });
});

describe('timedOut', () => {
  const wait = (o: Partial<PodWait>): PodWait => ({
    reason: 'RuntimeNotReady',
    message: 'm',
    problem: false,
    permanent: false,
    cause: false,
    ...o,
  });

  it('a runtime that ran but never passed its check: ReadyTimeout, raise the timeout, naming the check', () => {
    const end = timedOut(wait({}), { http: { port: 8080, path: '/healthz' } }, 61, 60);
    expect(end.reason).toBe('ReadyTimeout');
    expect(end.message).toMatch(
      /^the runtime was not ready after 61s \(spec\.timeouts\.readySeconds is 60\); raise /,
    );
    expect(end.message).toContain('HTTP GET /healthz on port 8080');
  });

  it('a pod stuck on a named cause fails with that cause, not the advice to wait longer', () => {
    const message = 'cannot pull; add spec.pod.imagePullSecrets';
    const stuck = wait({ reason: 'ImagePullBackOff', message, problem: true, cause: true });
    const end = timedOut(stuck, undefined, 30, 30);
    expect(end).toEqual({
      reason: 'ImagePullBackOff',
      message:
        'the runtime was not ready after 30s (spec.timeouts.readySeconds is 30) and its pod was deleted: ' +
        'cannot pull; add spec.pod.imagePullSecrets',
    });
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
    [
      { grpc: { port: 9, service: 'model' } },
      'grpc.health.v1 Check of service "model" on port 9 answering SERVING',
    ],
    [{ http: { port: 8080 } }, 'HTTP GET / on port 8080 answering 2xx or 3xx'],
    [{ tcp: { port: 6379 } }, 'a TCP connection to port 6379'],
  ])('%j', (ready, words) => {
    expect(readyCheckWords(ready)).toBe(words);
  });
});

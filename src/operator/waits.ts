// What a Starting Pea's pod waits on, as a pure function of the pod as the informer caches it
// (metadata and status: the spec is stripped). Each wait is said in the words of the part
// that knows (the scheduler's condition, the kubelet's container status) and says what to do
// next. decide() shows it on the Ready condition while it lasts, warns once when it turns
// into a problem, fails the Pea at once on a wait that cannot heal, and at
// spec.timeouts.readySeconds fails it with the true cause rather than ReadyTimeout.
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import type { ReadyProbe } from '../api/v1alpha1/types.js';
import { Reason, WaitReason } from '../shared/words.js';
import { RUNTIME_CONTAINER, SIDECAR_CONTAINER } from './pod.js';

/** What the pod of a Starting Pea waits on. */
export interface PodWait {
  /** CamelCase, for the Ready condition (and the Pea's reason if it fails on this wait). */
  reason: string;
  /** What the pod waits on and what to do next, for humans. */
  message: string;
  /** Something is wrong, not merely slow: worth one Warning Event. */
  problem: boolean;
  /** Can never heal for this pod: the Pea fails at once. */
  permanent: boolean;
  /**
   * A named cause the Pea fails with at spec.timeouts.readySeconds. False only while the
   * runtime runs and its ready check fails: that is when raising the timeout can help.
   */
  cause: boolean;
}

/** Longest part of a scheduler's or kubelet's message kept; the whole message is cut at 1024. */
const QUOTED = 600;
const MAX_MESSAGE = 1024;

/** Waits the kubelet passes through on every start: normal, unless they last. */
const CREATING = new Set(['ContainerCreating', 'PodInitializing']);
/** Pulls that fail now and may work later (registry back, Secret added, image pushed). */
const PULL = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'ErrImageNeverPull',
  'ImageInspectError',
  'RegistryUnavailable',
  'SignatureValidationFailed',
]);
/** The container runtime cannot create or start the container. */
const CREATE = new Set([
  'CreateContainerError',
  'RunContainerError',
  'PreCreateHookError',
  'PreStartHookError',
  'PostStartHookError',
]);

/**
 * What `pod` waits on while the Pea is Starting. `ready` is the Pea's spec.ready, named
 * when the runtime runs but does not pass it. Looks at the scheduler first, then at the
 * sidecar (it starts first), then at the runtime container.
 */
export function podWait(pod: V1Pod, ready: ReadyProbe | undefined): PodWait {
  const name = pod.metadata?.name ?? '';
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False') return schedulerWait(name, scheduled.reason, scheduled.message);
  const sidecar = containerStatus(pod, SIDECAR_CONTAINER);
  const runtime = containerStatus(pod, RUNTIME_CONTAINER);
  for (const c of [sidecar, runtime]) {
    const waiting = c?.state?.waiting;
    if (c && waiting?.reason && !CREATING.has(waiting.reason)) {
      return containerWait(name, c, waiting.reason, waiting.message);
    }
  }
  if (runtime?.state?.running) return runtimeNotReady(name, ready);
  if (sidecar?.state?.running && runtime?.state?.waiting?.reason !== 'ContainerCreating') {
    return wait(
      WaitReason.PodInitializing,
      `the runtime sidecar ${SIDECAR_CONTAINER} of pod ${name} is starting; ` +
        'the kubelet starts the runtime container once the sidecar takes control calls (its postStart hook): ' +
        `if this lasts, see kubectl logs ${name} -c ${SIDECAR_CONTAINER}`,
    );
  }
  const creating = sidecar?.state?.running ? runtime : (sidecar ?? runtime);
  if (creating || scheduled?.status === 'True') {
    const who = creating ? containerWords(creating.name) : 'its containers';
    return wait(
      WaitReason.ContainerCreating,
      `the kubelet is creating ${who} of pod ${name}: ` +
        `pulling the image and mounting volumes; ${eventsHint(name)} shows its progress (a volume whose Secret or ` +
        'ConfigMap does not exist keeps it here; a large image may need a higher spec.timeouts.readySeconds)',
    );
  }
  return wait(
    WaitReason.NotScheduled,
    `pod ${name} waits for the scheduler to place it on a node ` +
      "(it has no PodScheduled condition yet); if this lasts, check that the cluster's scheduler runs",
  );
}

/**
 * The Pea's end when spec.timeouts.readySeconds ran out during `w`: the wait's own reason
 * when it names a cause; ReadyTimeout, with the advice to raise the timeout, only when the
 * runtime was running and kept failing its ready check.
 */
export function timedOut(
  w: PodWait,
  ready: ReadyProbe | undefined,
  waitedSeconds: number,
  readySeconds: number,
): { reason: string; message: string } {
  const after = `the runtime was not ready after ${waitedSeconds}s (spec.timeouts.readySeconds is ${readySeconds})`;
  if (w.cause) return { reason: w.reason, message: cut(`${after} and its pod was deleted: ${w.message}`) };
  return {
    reason: Reason.ReadyTimeout,
    message: cut(
      `${after}; raise spec.timeouts.readySeconds if it needs longer to start, or 0 to wait forever ` +
        `(it was running, but never passed its ready check, spec.ready: ${readyCheckWords(ready)})`,
    ),
  };
}

/**
 * Whether a change of the Ready condition's reason from `before` to `after` is the same
 * trouble: the kubelet alternates ErrImagePull and ImagePullBackOff on every retry, which is
 * one problem and deserves one Event, not one per retry.
 */
export function sameTrouble(before: string | undefined, after: string): boolean {
  return before === after || (before !== undefined && PULL.has(before) && PULL.has(after));
}

/** The Pea's ready check (spec.ready) in words, as the sidecar runs it. */
export function readyCheckWords(ready: ReadyProbe | undefined): string {
  if (ready?.grpc) {
    const service = ready.grpc.service ? ` of service "${ready.grpc.service}"` : '';
    return `grpc.health.v1 Check${service} on port ${ready.grpc.port} answering SERVING`;
  }
  if (ready?.http)
    return `HTTP GET ${ready.http.path ?? '/'} on port ${ready.http.port} answering 2xx or 3xx`;
  if (ready?.tcp) return `a TCP connection to port ${ready.tcp.port}`;
  return 'none: ready as soon as it runs';
}

function schedulerWait(name: string, reason: string | undefined, message: string | undefined): PodWait {
  const said = quote(message);
  if (reason === WaitReason.Unschedulable) {
    return problem(
      reason,
      `the scheduler cannot place pod ${name} on a node${said}; lower the requests in ` +
        'spec.resources, add a node with room for them, or relax spec.pod.nodeSelector, tolerations or affinity',
    );
  }
  const why = reason || 'no reason given';
  return wait(reason || WaitReason.NotScheduled, `pod ${name} is not scheduled yet (${why})${said}`);
}

/** A container the kubelet holds back: its reason and message, and what to do about it. */
function containerWait(
  name: string,
  c: V1ContainerStatus,
  reason: string,
  message: string | undefined,
): PodWait {
  const sidecar = c.name === SIDECAR_CONTAINER;
  const of = `${containerWords(c.name)} of pod ${name}`;
  const said = quote(message);
  const sidecarImage = "the operator's --sidecar-image (chart value sidecar.image)";
  if (reason === 'InvalidImageName') {
    const fix = sidecar
      ? `fix ${sidecarImage}`
      : 'create the Pea again with a valid spec.image, such as ' + 'registry.example.com/team/model:1';
    const message = `the image of ${of} is not a valid image reference${said}; this cannot heal: ${fix}`;
    return { ...problem(reason, message), permanent: true };
  }
  if (PULL.has(reason)) {
    const fix = sidecar
      ? `${sidecarImage} must be pullable on this node`
      : 'fix spec.image (it cannot change: delete the Pea and create it again), or add a Secret for its registry to ' +
        'spec.pod.imagePullSecrets';
    return problem(reason, `the kubelet cannot pull the image of ${of}${said}; ${fix}`);
  }
  if (reason === 'CreateContainerConfigError') {
    return problem(
      reason,
      `the kubelet cannot configure ${of}${said}; create the Secret or ConfigMap it names, or fix ` +
        'the reference in spec.env: the kubelet retries, so the Pea starts once it exists',
    );
  }
  if (CREATE.has(reason)) {
    const fix = sidecar
      ? `see kubectl logs ${name} -c ${SIDECAR_CONTAINER} and ${eventsHint(name)}`
      : "fix what it names in the Pea's spec (command, volumeMounts, ports)";
    return problem(reason, `the container runtime cannot create or start ${of}${said}; ${fix}`);
  }
  if (reason === 'CrashLoopBackOff') {
    return problem(
      reason,
      `${of} keeps exiting, and the kubelet waits before it restarts it${said}; ` +
        `see why in kubectl logs ${name} -c ${c.name} --previous`,
    );
  }
  return wait(reason, `${of} is waiting${said}; ${eventsHint(name)} shows the kubelet's events`);
}

function runtimeNotReady(name: string, ready: ReadyProbe | undefined): PodWait {
  const message =
    `the runtime of pod ${name} is running but does not pass its ready check yet ` +
    `(spec.ready: ${readyCheckWords(ready)}); the runtime's log is in kubectl logs ${name} -c ${RUNTIME_CONTAINER}, ` +
    `the sidecar's in kubectl logs ${name} -c ${SIDECAR_CONTAINER}`;
  return { ...wait(WaitReason.RuntimeNotReady, message), cause: false };
}

function wait(reason: string, message: string): PodWait {
  return { reason, message: cut(message), problem: false, permanent: false, cause: true };
}

function problem(reason: string, message: string): PodWait {
  return { ...wait(reason, message), problem: true };
}

function containerWords(container: string | undefined): string {
  if (container === SIDECAR_CONTAINER) return `the runtime sidecar container ${SIDECAR_CONTAINER}`;
  return `the ${RUNTIME_CONTAINER} container`;
}

/** Works during the wait and after the pod is gone (the kubelet's Events outlive the pod). */
function eventsHint(pod: string): string {
  return `kubectl get events --field-selector involvedObject.name=${pod}`;
}

function quote(message: string | undefined): string {
  const m = message?.trim();
  return m ? ` (${m.length > QUOTED ? `${m.slice(0, QUOTED)}…` : m})` : '';
}

function cut(message: string): string {
  return message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message;
}

function containerStatus(pod: V1Pod, name: string): V1ContainerStatus | undefined {
  const all = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  return all.find((c) => c.name === name);
}

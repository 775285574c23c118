// The words of Peapods, in one place: a Pea's phases, its condition types, and every reason
// it, its conditions or its Events can carry. The API (src/api/v1alpha1/types.ts) builds the
// CRD's enums and descriptions from these; the sidecar's RuntimeStatus.reason (proto) uses the
// Reason words; the operator and the docs use nothing else. Add a word here, never inline.

/** Every phase of a Pea, in lifecycle order; the operator drops any other value it finds in a status. */
export const PEA_PHASES = ['Pending', 'Starting', 'Ready', 'Cancelling', 'Succeeded', 'Failed'] as const;
/** Where a Pea is in its lifecycle (status.phase). */
export type PeaPhase = (typeof PEA_PHASES)[number];

/** Condition types. `Ready` makes `kubectl wait --for=condition=Ready pea/x` work. */
export const ConditionType = {
  Ready: 'Ready',
  /** True once the Pea has ended, with the Reason words as its reason. */
  Finished: 'Finished',
} as const;

/** The words for how a runtime ended, as the sidecar tells them. */
export const Reason = {
  /** The runtime exited 0 by itself, without being cancelled. */
  Completed: 'Completed',
  /** A cancel (RPC, SIGTERM or preStop) stopped the runtime within the cancel timeout. */
  Cancelled: 'Cancelled',
  /** The runtime ignored SIGTERM and was killed after the cancel timeout. */
  CancelTimeout: 'CancelTimeout',
  /** The runtime failed before it was ever ready (init failed, crashed, or not found). */
  FailedToStart: 'FailedToStart',
  /** The runtime failed after it had been ready. */
  RunForeverError: 'RunForeverError',
  /** The runtime stopped cleanly but the teardown step failed or ran out of time. */
  TeardownFailed: 'TeardownFailed',
  /** The runtime was not ready within the Pea's ready timeout (set by the operator). */
  ReadyTimeout: 'ReadyTimeout',
} as const;

/** One of the Reason words. */
export type Reason = (typeof Reason)[keyof typeof Reason];

/**
 * How a run ended when something other than the Pea's own runtime or its owner stopped it:
 * the operator reads these from the pod (its conditions, its containers' states), never
 * from the sidecar, which cannot see who deleted its pod.
 */
export const EndReason = {
  /**
   * Someone deleted the Pea's pod (kubectl delete pod, a garbage collector); its preStop hook
   * cancelled the runtime.
   */
  PodDeleted: 'PodDeleted',
  /** The pod was evicted: the Eviction API (kubectl drain), node pressure, or a NoExecute taint. */
  Evicted: 'Evicted',
  /** The scheduler preempted the pod for one of higher priority. */
  Preempted: 'Preempted',
  /** The runtime container was killed by the kernel for going over its memory limit. */
  OOMKilled: 'OOMKilled',
  /** The sidecar's preStop hook endpoint was called while neither the Pea nor its pod was being deleted. */
  PreStopHook: 'PreStopHook',
  /** The pod ended without saying how its runtime did: reported as unknown rather than guessed. */
  Unknown: 'Unknown',
} as const;

/** What the sidecar's preStop endpoint passes as its cancel reason; its verdict then names it. */
export const PRESTOP_TRIGGER = 'preStop hook';

// The words that say what a Starting Pea's pod waits on: the Ready condition's reason while it
// lasts, and the Pea's reason when it fails on it (src/operator/waits.ts). Where the scheduler
// or the kubelet has a word for the wait, it is theirs (ErrImagePull, ContainerCreating, …,
// passed through as they come); these are the ones the Pea adds.
/** What a Starting Pea's pod waits on, in the words the Pea adds. */
export const WaitReason = {
  /** No scheduler has looked at the pod yet: it has no PodScheduled condition. */
  NotScheduled: 'NotScheduled',
  /** The scheduler found no node for the pod (the scheduler's own reason). */
  Unschedulable: 'Unschedulable',
  /** The kubelet is creating a container: pulling its image, mounting its volumes (the kubelet's own reason). */
  ContainerCreating: 'ContainerCreating',
  /** The runtime sidecar runs; the runtime container starts once it takes control calls (the kubelet's own reason). */
  PodInitializing: 'PodInitializing',
  /** The runtime runs but does not pass its ready check (spec.ready) yet. */
  RuntimeNotReady: 'RuntimeNotReady',
} as const;

/** One of the WaitReason words. */
export type WaitReason = (typeof WaitReason)[keyof typeof WaitReason];

/** Reasons of the Ready and Finished conditions while no end or wait word applies. */
export const ConditionReason = {
  /** Ready is True: the runtime passes its ready check. */
  RuntimeReady: 'RuntimeReady',
  /** Finished is False: the Pea has not ended. */
  Running: 'Running',
  /** Finished is True but the end carried no reason of its own. */
  Finished: 'Finished',
  /** A Pea that was Ready has a pod that is not ready now: its check fails, or the sidecar restarted. */
  NotReady: 'NotReady',
  /** A run ended and a new pod follows after the back-off (spec.restartPolicy Always). */
  Restarting: 'Restarting',
} as const;

/** Reasons for what the operator itself refuses or fails at: the Pea's reason, or a Warning Event. */
export const OperatorReason = {
  /** The spec cannot be run: a field the API server would refuse with the CRD installed. */
  InvalidSpec: 'InvalidSpec',
  /** The status held values no Peapods writes; the operator dropped them. */
  MalformedStatus: 'MalformedStatus',
  /** The API server refused the Pea's pod; the message carries its words. */
  FailedCreatePod: 'FailedCreatePod',
  /** The sidecar refused the operator's Cancel: the control token does not match. */
  CancelUnauthenticated: 'CancelUnauthenticated',
  /** The operator could not reach the sidecar to Cancel; it retries. */
  CancelUnreachable: 'CancelUnreachable',
} as const;

// The words of a PeaSet: its conditions' reasons and its Events (src/operator/peaset).
/** Reasons on a PeaSet's conditions and Events. */
export const PeaSetReason = {
  /** Available: at least replicas − maxUnavailable members are available (Deployment's word). */
  MinimumReplicasAvailable: 'MinimumReplicasAvailable',
  /** Available is False: fewer members are available than replicas − maxUnavailable. */
  MinimumReplicasUnavailable: 'MinimumReplicasUnavailable',
  /** Progressing: members are being created, drained or updated. */
  Progressing: 'Progressing',
  /** Progressing: every member is updated and available, and there are no more than replicas. */
  RolloutComplete: 'RolloutComplete',
  /** Progressing is False: nothing moved for progressDeadlineSeconds (Deployment's word). */
  ProgressDeadlineExceeded: 'ProgressDeadlineExceeded',
  /** A member started to drain: it leaves the Service before it is cancelled. */
  Draining: 'Draining',
  /** A draining member was still listed by an EndpointSlice when the wait ran out; stopped anyway. */
  DrainTimeout: 'DrainTimeout',
} as const;

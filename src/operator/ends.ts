// How a Pea's run ended, told truly: a pure function of its pod (and what the Pea recorded
// about its own cancel), from the facts the parts that know have written into the pod:
// the kubelet (container states, OOMKilled, evictions), the scheduler (preemption), the API
// server's disruption conditions, and the runtime sidecar's verdict (its termination
// message, "Reason: message", written once its teardown finished). Nothing is guessed: a
// pod that ended without saying how is reported as Unknown.
import type { V1ContainerStateTerminated, V1Pod } from '@kubernetes/client-node';
import type { PeaPhase } from '../api/v1alpha1/types.js';
import { EndReason, PRESTOP_TRIGGER, Reason } from '../shared/words.js';
import { RUNTIME_CONTAINER, SIDECAR_CONTAINER } from './pod.js';

/** What the Pea itself recorded about the run, beside the pod. */
export interface RunRecord {
  /** When the operator sent Cancel (status.cancelTime); undefined if it never did. */
  cancelTime?: string;
  /** Epoch ms after which a cancelled runtime is past its cancel timeout. */
  cancelDeadlineMs?: number;
  /**
   * The Pea itself is being deleted: the garbage collector deletes its pod, and that is the
   * Pea's own cancel (through the pod's preStop hook), not someone else's deletion.
   */
  peaDeleted?: boolean;
  /** The runtime had been ready in this run (status.readyTime). */
  wasReady: boolean;
  teardownSeconds: number;
}

/** A run that has ended: the Pea's phase, reason and message, and who asked for the end. */
export interface RunEnd {
  phase: Extract<PeaPhase, 'Succeeded' | 'Failed'>;
  reason: string;
  message: string;
  exitCode?: number;
  /** The Pea's own cancel ended it (spec.cancel or its deletion): never restarted. */
  byCancel: boolean;
}

/** The runtime exited but the sidecar is still tearing down: look again by `untilMs`. */
export interface TearingDown {
  tearingDownUntilMs: number;
}

/** Margin for the kubelet to stop the sidecar once its teardown is done. */
const SIDECAR_STOP_MARGIN_MS = 10_000;

/**
 * How the run of this pod ended; undefined while it runs. A runtime that exited while the
 * sidecar still tears down is not an end yet (a Pea is Succeeded only once its teardown has
 * finished), unless the pod is being deleted, or the sidecar takes longer than its teardown
 * budget allows, when what is known is reported.
 */
export function runEnd(pod: V1Pod, run: RunRecord, now: Date): RunEnd | TearingDown | undefined {
  const runtime = terminatedState(pod, RUNTIME_CONTAINER);
  const sidecar = terminatedState(pod, SIDECAR_CONTAINER);
  const podPhase = pod.status?.phase;
  const podEnded = podPhase === 'Succeeded' || podPhase === 'Failed';
  if (!runtime && !podEnded) return undefined;
  if (runtime && !podEnded && !sidecar && !pod.metadata?.deletionTimestamp) {
    const exitedMs = runtime.finishedAt ? new Date(runtime.finishedAt).getTime() : NaN;
    const until =
      (Number.isFinite(exitedMs) ? exitedMs : now.getTime()) +
      run.teardownSeconds * 1000 +
      SIDECAR_STOP_MARGIN_MS;
    if (now.getTime() < until) return { tearingDownUntilMs: until };
  }
  return classify(pod, runtime, verdict(sidecar), run);
}

function classify(
  pod: V1Pod,
  runtime: V1ContainerStateTerminated | undefined,
  sidecar: Verdict | undefined,
  run: RunRecord,
): RunEnd {
  const name = pod.metadata?.name ?? '';
  const exitCode = runtime?.exitCode;
  const said = runtime?.message?.trim() || sidecar?.message || '';
  const exited = exitCode === undefined ? 'ended' : `exited ${exitCode}`;
  const end = (phase: RunEnd['phase'], reason: string, message: string, byCancel = false): RunEnd => ({
    phase,
    reason,
    message,
    ...(exitCode !== undefined ? { exitCode } : {}),
    byCancel,
  });

  if (runtime?.reason === 'OOMKilled') {
    return end(
      'Failed',
      EndReason.OOMKilled,
      `the runtime container went over its memory limit and was killed by the kernel (exit ${exitCode ?? 137}): ` +
        'raise spec.resources.limits.memory, or make the runtime use less',
    );
  }
  if (run.cancelTime && exitCode !== undefined) {
    const late =
      run.cancelDeadlineMs !== undefined &&
      runtime?.finishedAt !== undefined &&
      new Date(runtime.finishedAt).getTime() > run.cancelDeadlineMs;
    if (exitCode === 137) {
      return end(
        'Failed',
        Reason.CancelTimeout,
        said || 'the runtime ignored SIGTERM for spec.timeouts.cancelSeconds after Cancel and was killed',
        true,
      );
    }
    if (late) {
      return end(
        'Failed',
        Reason.CancelTimeout,
        `the runtime had not stopped when spec.timeouts.cancelSeconds ran out after Cancel, so its pod ` +
          `was deleted; it then ${exited}${said ? `: ${said}` : ''}`,
        true,
      );
    }
    if (exitCode === 0 || exitCode === 143)
      return end('Succeeded', Reason.Cancelled, said || 'cancelled', true);
  }
  const disruption = disruptedBy(pod, run.peaDeleted === true);
  if (disruption)
    return end(
      'Failed',
      disruption.reason,
      `${disruption.message}; its preStop hook cancelled the runtime, which ${exited}`,
    );
  if (sidecar?.reason === Reason.Cancelled && sidecar.message.startsWith(`cancelled (${PRESTOP_TRIGGER})`)) {
    return end(
      'Failed',
      EndReason.PreStopHook,
      `the runtime was cancelled through its pod's preStop hook endpoint (the sidecar's /prestop) while neither ` +
        `the Pea nor pod ${name} was being deleted, and ${exited}; ` +
        `the sidecar's log names the caller (kubectl logs ${name} -c ${SIDECAR_CONTAINER})`,
    );
  }
  if (exitCode === undefined) {
    const why = [pod.status?.reason, pod.status?.message].filter(Boolean).join(': ');
    return end(
      'Failed',
      EndReason.Unknown,
      `pod ${name} ended (${pod.status?.phase}${why ? `, ${why}` : ''}) ` +
        'without a state for its runtime container: how the runtime ended is unknown',
    );
  }
  if (sidecar?.reason === Reason.TeardownFailed) return end('Failed', Reason.TeardownFailed, sidecar.message);
  if (exitCode === 0) return end('Succeeded', Reason.Completed, said || 'the runtime finished by itself');
  const text =
    said ||
    `the runtime exited with code ${exitCode}: see its logs (kubectl logs ${name} -c ${RUNTIME_CONTAINER})`;
  return end('Failed', run.wasReady ? Reason.RunForeverError : Reason.FailedToStart, text);
}

/**
 * The pod's end came from outside, as the pod itself says: the API server's DisruptionTarget
 * condition (GA in 1.31) names evictions, preemption and taints; the kubelet's own eviction
 * sets status.reason Evicted; otherwise a deletion is someone's `kubectl delete pod`, unless
 * the Pea itself is being deleted (the garbage collector's cascade).
 */
function disruptedBy(pod: V1Pod, peaDeleted: boolean): { reason: string; message: string } | undefined {
  const name = pod.metadata?.name ?? '';
  const target = pod.status?.conditions?.find((c) => c.type === 'DisruptionTarget' && c.status === 'True');
  const said = target?.message ? ` (${target.message})` : '';
  switch (target?.reason) {
    case 'EvictionByEvictionAPI':
      return {
        reason: EndReason.Evicted,
        message: `pod ${name} was evicted through the Eviction API, as kubectl drain does${said}`,
      };
    case 'PreemptionByScheduler':
      return {
        reason: EndReason.Preempted,
        message: `pod ${name} was preempted by the scheduler for a pod of higher priority${said}`,
      };
    case 'DeletionByTaintManager':
      return {
        reason: EndReason.Evicted,
        message: `pod ${name} was evicted by a NoExecute taint on its node${said}`,
      };
    case 'TerminationByKubelet':
      return { reason: EndReason.Evicted, message: `pod ${name} was stopped by its node's kubelet${said}` };
    case 'DeletionByPodGC':
      return {
        reason: EndReason.PodDeleted,
        message: `pod ${name} was deleted by the pod garbage collector (its node is gone)${said}`,
      };
  }
  if (pod.status?.reason === 'Evicted')
    return {
      reason: EndReason.Evicted,
      message: `pod ${name} was evicted by its node's kubelet: ${pod.status.message ?? ''}`.trimEnd(),
    };
  if (pod.metadata?.deletionTimestamp && !peaDeleted)
    return { reason: EndReason.PodDeleted, message: `pod ${name} was deleted by someone else` };
  return undefined;
}

interface Verdict {
  reason: string;
  message: string;
}

/** The sidecar's termination message, "Reason: message" (src/runtime/sidecar/sidecar.ts). */
function verdict(sidecar: V1ContainerStateTerminated | undefined): Verdict | undefined {
  const m = /^([A-Za-z]+): ([\s\S]*)$/.exec(sidecar?.message?.trim() ?? '');
  return m ? { reason: m[1] as string, message: m[2] as string } : undefined;
}

function terminatedState(pod: V1Pod, container: string): V1ContainerStateTerminated | undefined {
  const all = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])];
  return all.find((c) => c.name === container)?.state?.terminated;
}

/**
 * The pod is gone and the Pea had asked for a cancel. The operator deletes a pod for its
 * cancel timeout only after recording that (status.reason CancelTimeout while Cancelling), so
 * that record, not the time the operator happens to look, tells the two ends apart. Any other
 * deletion (the Pea's own, or the cancel's fallback) ran the pod's preStop cancel: a gone
 * pod's containers have stopped.
 */
export function goneAfterCancel(
  podName: string,
  status: { cancelTime?: string; reason?: string },
  cancelSeconds: number,
): RunEnd {
  if (status.cancelTime && status.reason === Reason.CancelTimeout) {
    return {
      phase: 'Failed',
      reason: Reason.CancelTimeout,
      byCancel: true,
      message:
        `the runtime did not stop within spec.timeouts.cancelSeconds (${cancelSeconds}s) after Cancel; ` +
        `its pod ${podName} was deleted and is gone`,
    };
  }
  return {
    phase: 'Succeeded',
    reason: Reason.Cancelled,
    byCancel: true,
    message: status.cancelTime
      ? `cancelled; pod ${podName} is gone`
      : `cancelled; pod ${podName} was already gone`,
  };
}

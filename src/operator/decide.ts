// The heart of the reconciler, as a pure function: from the Pea, its pod (if any) and the
// time, decide the Pea's status and the writes that move the world towards it. Everything
// it needs is re-read each time, so a restart at any point repeats no work and loses no
// transition: e.g. `status.cancelTime` records that the Cancel RPC went out.
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import {
  ConditionType,
  PEA_PHASES,
  RESTART_POLICIES,
  type Condition,
  type LastTermination,
  type Pea,
  type PeaPhase,
  type PeaStatus,
  type Timeouts,
} from '../api/v1alpha1/types.js';
import { ConditionReason, EndReason, OperatorReason, Reason } from '../shared/words.js';
import { goneAfterCancel, runEnd, type RunEnd } from './ends.js';
import { podName, RUNTIME_CONTAINER, SIDECAR_CONTAINER, timeoutsOf } from './pod.js';
import { mergeTimeline, podTimeline, TIMELINE_KEYS } from './timeline.js';
import { podWait, sameTrouble, timedOut, type PodWait } from './waits.js';

/**
 * A PeaSet's hold on its member (and on itself): while it is on a deleted Pea, the Pea keeps
 * running, and is not cancelled, until the PeaSet has drained it (src/operator/peaset).
 */
export const DRAIN_FINALIZER = 'peapods.io/drain';
/**
 * Set by a PeaSet on a deleted member it has drained: the Pea controller may cancel it now.
 * The PeaSet's finalizer stays on until the member has ended, so that the member's end is
 * told (Cancelled, …) and its pod is final before the Pea is gone: Peas carry no finalizer of
 * the Pea controller's (LEGACY_FINALIZER).
 */
export const ANNOTATION_LET_GO = 'peapods.io/let-go';
/**
 * The finalizer earlier operators put on every Pea, so that a deleted Pea waited for the
 * operator's Cancel. It made deletion hang whenever the operator was down or uninstalled; a
 * Pea's pod runs the same cancel -> teardown through its preStop hook when the garbage
 * collector deletes it, so the operator now only takes it off Peas that still carry it
 * (docs/operator-cost.md).
 */
export const LEGACY_FINALIZER = 'peapods.io/cancel';

/** A write that moves the world towards the Pea's status; the reconciler (reconcile.ts) makes it. */
export type Action =
  /** Takes LEGACY_FINALIZER off a Pea an older operator put it on. */
  | { kind: 'removeFinalizer' }
  | { kind: 'createPod' }
  /** The Pea's token Secret, which its pod mounts: sent once per process (once.ts), and with each new pod. */
  | { kind: 'createTokenSecret' }
  /** Asked for on every pass while Cancelling: sent once per process (once.ts), after the status. */
  | { kind: 'cancelRpc' }
  | { kind: 'deletePod'; name: string };

/** An Event about a Pea that decide() asks for; the reconciler records it (events.ts). */
export interface PeaEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** What decide() wants: the Pea's status, the writes that move the world towards it, and when to look again. */
export interface Decision {
  status: PeaStatus;
  actions: Action[];
  /** Reconcile again after this long even if nothing changes (deadlines). */
  requeueAfterMs?: number;
  events: PeaEvent[];
  /** Why the pod of a Pea that has been Ready is not ready now (its phase stays Ready, as a pod's stays Running). */
  notReady?: string;
  /** What the pod of a Starting Pea waits on (waits.ts): the Ready condition says it. */
  wait?: PodWait;
}

const isFinished = (p?: PeaPhase): boolean => p === 'Succeeded' || p === 'Failed';

/** The Decision for a Pea, its pod (undefined: none) and the time: pure, so a table of rows tests it. */
export function decide(pea: Pea, pod: V1Pod | undefined, now: Date): Decision {
  const { status: old, garbled } = readStatus(pea.status);
  const d: Decision = { status: { ...old }, actions: [], events: [] };
  if (garbled.length > 0) {
    d.events.push({
      type: 'Warning',
      reason: OperatorReason.MalformedStatus,
      message:
        `ignored status fields the operator does not understand (${garbled.join(', ')}); ` +
        'they are rewritten from what it observes',
    });
  }
  if ((pea.metadata.finalizers ?? []).includes(LEGACY_FINALIZER)) d.actions.push({ kind: 'removeFinalizer' });

  const problem = invalid(pea);
  if (problem && !isFinished(old.phase)) finish(d, 'Failed', OperatorReason.InvalidSpec, problem, now);
  else if (!isFinished(old.phase)) progress(pea, pod, now, d);
  // Every pod of a live Pea mounts its token Secret, the one about to be created too.
  const podWanted = pod ? !isFinished(d.status.phase) : d.actions.some((a) => a.kind === 'createPod');
  if (podWanted) d.actions.push({ kind: 'createTokenSecret' });
  // The status waits until the new pod is seen (its watch event brings the Pea back here):
  // writing Pending first would cost a write per Pea for a state that lasts milliseconds.
  if (d.actions.some((a) => a.kind === 'createPod')) return { ...d, status: old };

  d.status.observedGeneration = pea.metadata.generation;
  d.status.conditions = conditions(
    old.conditions ?? [],
    d.status,
    pea.metadata.generation,
    now,
    d.notReady,
    d.wait,
  );
  if (pod && d.status.podName === pod.metadata?.name) addTimeline(old, d.status, pod);
  const wasReady = old.conditions?.find((c) => c.type === ConditionType.Ready)?.status === 'True';
  if (d.notReady && wasReady && d.status.phase === old.phase)
    d.events.push({ type: 'Warning', reason: ConditionReason.NotReady, message: d.notReady });
  // No Event for Starting: the pod's own (Scheduled, Pulled, Started) say it better, and it
  // was a write per Pea. Problems while starting still get their Warning (starting()).
  const told = d.status.phase === 'Starting' || d.events.some((e) => e.reason === ConditionReason.Restarting);
  if (d.status.phase !== old.phase && !told) {
    const warn = d.status.phase === 'Failed';
    d.events.push({
      type: warn ? 'Warning' : 'Normal',
      reason: d.status.reason ?? d.status.phase ?? 'Unknown',
      message: d.status.message ?? `Pea is ${d.status.phase}`,
    });
  }
  return d;
}

/**
 * The steps of the run the pod shows, added to a status that is written anyway: a time costs
 * no write of its own, and being the pod's own time it is as true written a moment later.
 */
function addTimeline(old: PeaStatus, s: PeaStatus, pod: V1Pod): void {
  // JSON.stringify leaves out undefined: the two compare without their timelines.
  if (JSON.stringify({ ...s, timeline: undefined }) === JSON.stringify({ ...old, timeline: undefined }))
    return;
  const merged = mergeTimeline(old.timeline, podTimeline(pod));
  if (Object.keys(merged).length > 0) s.timeline = merged;
}

const PHASES: readonly string[] = PEA_PHASES;
const TIMES = ['startTime', 'readyTime', 'cancelTime', 'finishTime'] as const;
const STRINGS = ['podName', 'podIP', 'reason', 'message'] as const;
const NUMBERS = ['exitCode', 'observedGeneration', 'restartCount'] as const;

/**
 * The status as the operator can use it: a hand edit or an older CRD may have put anything
 * there. Fields of the wrong shape are dropped (and named, to be reported), so that the
 * status is rebuilt from what is observed instead of a reconcile failing on every retry.
 */
export function readStatus(raw: unknown): { status: PeaStatus; garbled: string[] } {
  if (raw === undefined || raw === null) return { status: {}, garbled: [] };
  if (typeof raw !== 'object' || Array.isArray(raw)) return { status: {}, garbled: ['status'] };
  const status: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  const garbled: string[] = [];
  const drop = (k: string): void => {
    if (status[k] === undefined) return;
    delete status[k];
    garbled.push(`status.${k}`);
  };
  if (typeof status.phase !== 'string' || !PHASES.includes(status.phase)) drop('phase');
  for (const k of TIMES) if (typeof status[k] !== 'string' || !validTime(status[k] as string)) drop(k);
  for (const k of STRINGS) if (typeof status[k] !== 'string') drop(k);
  for (const k of NUMBERS) if (typeof status[k] !== 'number') drop(k);
  const okCondition = (c: unknown): boolean =>
    typeof c === 'object' && c !== null && typeof (c as Condition).type === 'string';
  if (!Array.isArray(status.conditions) || !status.conditions.every(okCondition)) drop('conditions');
  const last = status.lastTermination as Partial<LastTermination> | undefined;
  if (
    typeof last !== 'object' ||
    last === null ||
    !validTime(last.finishTime) ||
    typeof last.backoffSeconds !== 'number' ||
    !Number.isFinite(last.backoffSeconds)
  )
    drop('lastTermination');
  const tl = status.timeline as Record<string, unknown> | undefined;
  const okTime = (k: string) => tl?.[k] === undefined || (typeof tl[k] === 'string' && validTime(tl[k]));
  if (typeof tl !== 'object' || tl === null || Array.isArray(tl) || !TIMELINE_KEYS.every(okTime))
    drop('timeline');
  return { status: status as PeaStatus, garbled };
}

/** What an older CRD or a hand edit could let through; reported, never thrown. */
function invalid(pea: Pea): string | undefined {
  const spec = pea.spec as Partial<Pea['spec']> | undefined;
  if (!spec || typeof spec !== 'object') return 'spec is missing: add spec.image at least';
  if (typeof spec.image !== 'string' || spec.image === '')
    return 'spec.image is missing, empty or not a string: set the runtime image';
  if (spec.timeouts !== undefined && (typeof spec.timeouts !== 'object' || spec.timeouts === null))
    return 'spec.timeouts must be an object of seconds, e.g. {readySeconds: 300}';
  const ready = spec.ready as Record<string, { port?: unknown } | undefined> | undefined;
  if (ready !== undefined && (typeof ready !== 'object' || ready === null))
    return 'spec.ready must be an object with one of grpc, http, tcp or none';
  const kinds = Object.keys(ready ?? {}).filter((k) => ['grpc', 'http', 'tcp', 'none'].includes(k));
  if (kinds.length > 1) return 'spec.ready: set only one of grpc, http, tcp or none';
  for (const k of kinds.filter((x) => x !== 'none')) {
    const port = ready?.[k]?.port;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)
      return `spec.ready.${k}.port must be a port number from 1 to 65535`;
  }
  if (spec.restartPolicy !== undefined && !RESTART_POLICIES.includes(spec.restartPolicy))
    return `spec.restartPolicy must be Never or Always, not ${JSON.stringify(spec.restartPolicy)}`;
  for (const [k, v] of Object.entries(spec.timeouts ?? {})) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      return `spec.timeouts.${k} must be a non-negative number of seconds, not ${JSON.stringify(v)}`;
  }
  return undefined;
}

/**
 * The API server refused the Pea's pod (422: a field of the spec it cannot take; 403 from
 * PodSecurity admission: more than the namespace allows): a fact about the spec, so the Pea
 * fails with InvalidSpec instead of retrying a doomed create.
 */
export function podRejected(pea: Pea, apiMessage: string, now: Date): Decision {
  const { status: old } = readStatus(pea.status);
  const d: Decision = { status: { ...old }, actions: [], events: [] };
  finish(d, 'Failed', OperatorReason.InvalidSpec, apiMessage, now);
  d.status.observedGeneration = pea.metadata.generation;
  d.status.conditions = conditions(old.conditions ?? [], d.status, pea.metadata.generation, now);
  d.events.push({ type: 'Warning', reason: OperatorReason.InvalidSpec, message: d.status.message as string });
  return d;
}

function progress(pea: Pea, pod: V1Pod | undefined, now: Date, d: Decision): void {
  const s = d.status;
  const deleted = beingDeleted(pea);
  // A deleted member of a PeaSet runs on until its PeaSet has drained it and lets go of it.
  const held =
    deleted &&
    (pea.metadata.finalizers ?? []).includes(DRAIN_FINALIZER) &&
    !pea.metadata.annotations?.[ANNOTATION_LET_GO];
  const wantsCancel = Boolean(pea.spec.cancel) || (deleted && !held);
  // A cancel always wins over a restart, also one already sent and since taken back.
  const restarts = pea.spec.restartPolicy === 'Always' && !wantsCancel && !s.cancelTime && !deleted;
  const t = timeoutsOf(pea);
  if (!pod) {
    if (s.podName && s.phase !== 'Pending') {
      if (wantsCancel || s.cancelTime)
        return concluded(d, goneAfterCancel(s.podName, s, t.cancelSeconds), now, false);
      const message =
        `pod ${s.podName} was deleted by someone else; how its runtime ended is unknown ` +
        '(the pod was gone before the operator saw it end)';
      return concluded(
        d,
        { phase: 'Failed', reason: EndReason.PodDeleted, message, byCancel: false },
        now,
        restarts,
      );
    }
    const last = s.restartCount ? s.lastTermination : undefined;
    if (wantsCancel)
      return finish(
        d,
        'Succeeded',
        Reason.Cancelled,
        last ? 'cancelled while waiting to restart' : 'cancelled before the runtime started',
        now,
      );
    if (last) {
      if (pea.spec.restartPolicy !== 'Always') {
        s.exitCode = last.exitCode;
        if (s.exitCode === undefined) delete s.exitCode;
        return finish(
          d,
          last.reason === Reason.Completed ? 'Succeeded' : 'Failed',
          last.reason,
          `${last.message}; not restarted: spec.restartPolicy changed to Never`,
          now,
        );
      }
      const due = new Date(last.finishTime).getTime() + last.backoffSeconds * 1000;
      if (now.getTime() < due) {
        d.requeueAfterMs = due - now.getTime();
        return;
      }
    }
    d.actions.push({ kind: 'createPod' });
    if (t.readySeconds > 0) d.requeueAfterMs = t.readySeconds * 1000;
    return;
  }
  s.podName = pod.metadata?.name;
  s.podIP = pod.status?.podIP ?? s.podIP;
  // A hand-edited or garbled time would make every deadline NaN: fall back to the pod's.
  if (!validTime(s.startTime))
    s.startTime = (
      pod.metadata?.creationTimestamp ? new Date(pod.metadata.creationTimestamp) : now
    ).toISOString();
  if (!s.phase || s.phase === 'Pending') s.phase = 'Starting';

  const end = runEnd(
    pod,
    {
      // A deleted Pea's pod is deleted by the garbage collector, and its preStop hook cancels.
      cancelTime:
        s.cancelTime ?? (deleted ? new Date(pea.metadata.deletionTimestamp!).toISOString() : undefined),
      peaDeleted: deleted,
      cancelDeadlineMs: cancelDeadlineMs(s, t),
      wasReady: s.readyTime !== undefined,
      teardownSeconds: t.teardownSeconds,
    },
    now,
  );
  if (end && 'tearingDownUntilMs' in end) {
    // The runtime exited; its sidecar still tears down. The end is told once that is done.
    d.requeueAfterMs = Math.max(end.tearingDownUntilMs - now.getTime(), 1);
    return;
  }
  if (end) return concluded(d, end, now, restarts);
  if (wantsCancel) return cancelling(pea, d, now, t, Boolean(pod.metadata?.deletionTimestamp));

  const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  if (ready) {
    s.phase = 'Ready';
    s.readyTime ??= now.toISOString();
    return;
  }
  if (s.phase === 'Ready') {
    d.notReady = notReadyReason(pod);
    return;
  }
  starting(pea, pod, now, d);
}

/**
 * The pod of a Starting Pea is not ready: name what it waits on (the Ready condition), warn
 * once when that turns into a problem, and fail the Pea on a wait that cannot heal, or at
 * spec.timeouts.readySeconds with the cause it was stuck on.
 */
function starting(pea: Pea, pod: V1Pod, now: Date, d: Decision): void {
  const s = d.status;
  const t = timeoutsOf(pea);
  const w = podWait(pod, pea.spec.ready);
  d.wait = w;
  if (w.permanent) {
    d.actions.push({ kind: 'deletePod', name: s.podName ?? podName(pea) });
    return finish(d, 'Failed', w.reason, w.message, now);
  }
  if (s.readyTime === undefined && t.readySeconds > 0) {
    const waited = now.getTime() - new Date(s.startTime as string).getTime();
    if (waited >= t.readySeconds * 1000) {
      d.actions.push({ kind: 'deletePod', name: s.podName ?? podName(pea) });
      const end = timedOut(w, pea.spec.ready, Math.round(waited / 1000), t.readySeconds);
      return finish(d, 'Failed', end.reason, end.message, now);
    }
    d.requeueAfterMs = t.readySeconds * 1000 - waited;
  }
  // The old Ready condition is what the Pea showed: a problem already shown is not repeated.
  const shown = s.conditions?.find((c) => c.type === ConditionType.Ready)?.reason;
  if (w.problem && !sameTrouble(shown, w.reason)) {
    d.events.push({ type: 'Warning', reason: w.reason, message: w.message });
  }
}

/** When a cancelled runtime is past its cancel timeout: the sidecar's cancel timeout plus some teardown. */
function cancelDeadlineMs(s: PeaStatus, t: Timeouts): number | undefined {
  if (!validTime(s.cancelTime)) return undefined;
  return new Date(s.cancelTime).getTime() + (t.cancelSeconds + Math.min(t.teardownSeconds, 5)) * 1000;
}

/** How long a pod deleted for its cancel timeout may take to go before the Pea ends without it. */
const POD_DELETION_GRACE_MS = 30_000;

/**
 * Cancel RPC once, then wait for the runtime to end; past the deadline, delete the pod and
 * wait for that deletion to stop the runtime (the end is told from the pod, not assumed);
 * past the pod's own grace period too (a node that never answers), end without it.
 */
function cancelling(pea: Pea, d: Decision, now: Date, t: Timeouts, podDeleting: boolean): void {
  const { cancelSeconds, teardownSeconds } = t;
  const s = d.status;
  s.phase = 'Cancelling';
  if (!validTime(s.cancelTime)) {
    s.cancelTime = now.toISOString();
    s.message = pea.metadata.deletionTimestamp
      ? 'cancelling: the Pea is being deleted'
      : 'cancelling: spec.cancel is true';
    d.actions.push({ kind: 'cancelRpc' });
    d.requeueAfterMs = cancelSeconds * 1000;
    return;
  }
  // The sidecar itself kills the runtime after cancelSeconds; allow it that plus teardown.
  const deadline = cancelDeadlineMs(s, t) as number;
  if (now.getTime() < deadline) {
    // Asked for on every pass: once.ts lets it go out once per process, after cancelTime is
    // written, so a Cancel lost with a killed operator is sent again by the next one.
    d.actions.push({ kind: 'cancelRpc' });
    d.requeueAfterMs = deadline - now.getTime();
    return;
  }
  // The deletion is recorded before it is made (status.reason CancelTimeout while still
  // Cancelling), as Cancel is: a pod found gone later is then told truly, whenever it is seen.
  if (s.reason !== Reason.CancelTimeout) {
    s.reason = Reason.CancelTimeout;
    s.message =
      `the runtime did not stop within spec.timeouts.cancelSeconds (${cancelSeconds}s) after Cancel; ` +
      'its pod is being deleted, so the kubelet sends SIGTERM and then SIGKILL';
    d.requeueAfterMs = 1;
    return;
  }
  if (!podDeleting) d.actions.push({ kind: 'deletePod', name: s.podName ?? podName(pea) });
  const giveUp = deadline + teardownSeconds * 1000 + POD_DELETION_GRACE_MS;
  if (now.getTime() < giveUp) {
    d.requeueAfterMs = giveUp - now.getTime();
    return;
  }
  finish(
    d,
    'Failed',
    Reason.CancelTimeout,
    `the runtime did not stop within spec.timeouts.cancelSeconds (${cancelSeconds}s) after Cancel, ` +
      `and its pod ${s.podName ?? ''} was still not gone ` +
      `${Math.round((now.getTime() - deadline) / 1000)}s after it was deleted (is its node down?)`,
    now,
  );
}

/** The run ended (ends.ts says how): the Pea ends with it, or restarts (never after its own cancel). */
function concluded(d: Decision, end: RunEnd, now: Date, restarts: boolean): void {
  if (end.exitCode !== undefined) d.status.exitCode = end.exitCode;
  if (restarts && !end.byCancel) return restart(d, end.reason, end.message, end.exitCode, now);
  const outside =
    end.reason === EndReason.PodDeleted ||
    end.reason === EndReason.Evicted ||
    end.reason === EndReason.Preempted ||
    end.reason === EndReason.PreStopHook;
  const never = outside
    ? '; spec.restartPolicy is Never, so the Pea is not restarted: set it to Always, ' +
      'or delete and re-create the Pea to run it again'
    : '';
  finish(d, end.phase, end.reason, `${end.message}${never}`, now);
}

export const RESTART_BACKOFF = { initialSeconds: 10, maxSeconds: 300, resetAfterSeconds: 600 } as const;

/**
 * The wait before the next pod, as the kubelet's CrashLoopBackOff: 10 s, doubling after each
 * restart up to 5 minutes; back to 10 s when the run that just ended lasted 10 minutes, so a
 * long-lived runtime that fails once a day is not held back by last week's crash loop.
 */
export function restartBackoffSeconds(previousSeconds: number | undefined, ranMs: number): number {
  const { initialSeconds, maxSeconds, resetAfterSeconds } = RESTART_BACKOFF;
  if (previousSeconds === undefined || !(ranMs < resetAfterSeconds * 1000)) return initialSeconds;
  return Math.min(Math.max(previousSeconds * 2, initialSeconds), maxSeconds);
}

/**
 * The run ended and the Pea asks for restarts: it goes back to Pending with the next pod's
 * number, remembers how this run ended, and waits out the back-off (the no-pod branch of
 * progress() creates the pod when it is due). The current run's fields are cleared so that
 * the next run's ready timeout and crash reasons start afresh.
 */
function restart(
  d: Decision,
  reason: string,
  message: string,
  exitCode: number | undefined,
  now: Date,
): void {
  const s = d.status;
  const ranMs = validTime(s.startTime) ? now.getTime() - new Date(s.startTime).getTime() : 0;
  const backoffSeconds = restartBackoffSeconds(s.lastTermination?.backoffSeconds, ranMs);
  const n = (s.restartCount ?? 0) + 1;
  // The pod of the run that just ended stays for `kubectl logs`; the one before it goes.
  if (s.lastTermination?.podName && s.lastTermination.podName !== s.podName)
    d.actions.push({ kind: 'deletePod', name: s.lastTermination.podName });
  const last: LastTermination = {
    ...(s.podName ? { podName: s.podName } : {}),
    reason,
    message: message.slice(0, 1024),
    ...(exitCode !== undefined ? { exitCode } : {}),
    ...(validTime(s.startTime) ? { startTime: s.startTime } : {}),
    finishTime: now.toISOString(),
    backoffSeconds,
  };
  for (const k of [
    'podName',
    'podIP',
    'startTime',
    'readyTime',
    'cancelTime',
    'finishTime',
    'exitCode',
    'reason',
    'timeline',
  ] as const)
    delete s[k];
  const why = `${last.podName ? `pod ${last.podName} ended` : 'the run ended'} (${reason}: ${last.message})`;
  Object.assign(s, {
    phase: 'Pending',
    restartCount: n,
    lastTermination: last,
    message: `restart ${n} in ${backoffSeconds}s (spec.restartPolicy is Always): ${why}`.slice(0, 1024),
  });
  d.requeueAfterMs = backoffSeconds * 1000;
  d.events.push({
    type: reason === Reason.Completed ? 'Normal' : 'Warning',
    reason: ConditionReason.Restarting,
    message: s.message as string,
  });
}

/**
 * The Pea is being deleted and its pod goes with it: a foreground deletion, or someone
 * else's finalizer. Not with `--cascade=orphan`, which keeps the pod running unowned.
 */
function beingDeleted(pea: Pea): boolean {
  return Boolean(pea.metadata.deletionTimestamp) && !(pea.metadata.finalizers ?? []).includes('orphan');
}

function validTime(t: string | undefined): t is string {
  return t !== undefined && Number.isFinite(new Date(t).getTime());
}

function finish(d: Decision, phase: PeaPhase, reason: string, message: string, now: Date): void {
  Object.assign(d.status, {
    phase,
    reason,
    message: message.slice(0, 1024),
    finishTime: d.status.finishTime ?? now.toISOString(),
  });
}

function containerStatus(pod: V1Pod, name: string): V1ContainerStatus | undefined {
  return [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])].find(
    (c) => c.name === name,
  );
}

/** What the pod of a Ready Pea shows when it stops being ready, in words for kubectl describe. */
function notReadyReason(pod: V1Pod): string {
  const sidecar = containerStatus(pod, SIDECAR_CONTAINER);
  const name = pod.metadata?.name ?? '';
  if (sidecar && (sidecar.restartCount ?? 0) > 0 && !sidecar.ready) {
    const last = sidecar.lastState?.terminated;
    return (
      `pod ${name} is not ready: its runtime sidecar restarted (${sidecar.restartCount} restarts` +
      `${last ? `, last exit ${last.exitCode} ${last.reason ?? ''}`.trimEnd() : ''}) ` +
      'and has not yet seen the runtime ready again; ' +
      `see kubectl logs ${name} -c ${SIDECAR_CONTAINER} --previous`
    );
  }
  return (
    `pod ${name} is not ready: the runtime stopped passing its ready check; ` +
    `see kubectl logs ${name} -c ${RUNTIME_CONTAINER}`
  );
}

function conditions(
  old: Condition[],
  s: PeaStatus,
  generation: number | undefined,
  now: Date,
  notReady?: string,
  wait?: PodWait,
): Condition[] {
  const finished = isFinished(s.phase);
  const backingOff = s.phase === 'Pending' && Boolean(s.restartCount) && s.lastTermination !== undefined;
  const want: Array<Omit<Condition, 'lastTransitionTime'>> = [
    s.phase === 'Ready' && notReady
      ? { type: ConditionType.Ready, status: 'False', reason: ConditionReason.NotReady, message: notReady }
      : s.phase === 'Ready'
        ? {
            type: ConditionType.Ready,
            status: 'True',
            reason: ConditionReason.RuntimeReady,
            message: 'the runtime passes its ready check',
          }
        : backingOff
          ? {
              type: ConditionType.Ready,
              status: 'False',
              reason: ConditionReason.Restarting,
              message: s.message ?? '',
            }
          : s.phase === 'Starting' && wait
            ? { type: ConditionType.Ready, status: 'False', reason: wait.reason, message: wait.message }
            : {
                type: ConditionType.Ready,
                status: 'False',
                reason: finished ? (s.reason ?? ConditionReason.Finished) : (s.phase ?? 'Pending'),
                message: finished ? (s.message ?? '') : `the Pea is ${s.phase ?? 'Pending'}`,
              },
    finished
      ? {
          type: ConditionType.Finished,
          status: 'True',
          reason: s.reason ?? ConditionReason.Finished,
          message: s.message ?? '',
        }
      : {
          type: ConditionType.Finished,
          status: 'False',
          reason: ConditionReason.Running,
          message: 'the Pea has not ended',
        },
  ];
  return want.map((c) => {
    const prev = old.find((o) => o.type === c.type);
    const since = prev && prev.status === c.status ? prev.lastTransitionTime : now.toISOString();
    return {
      ...c,
      lastTransitionTime: since,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    };
  });
}

// The PeaSet reconciler's heart, as a pure function (as decide() is the Pea's): from the
// PeaSet, what is known of each member (its Pea, whether its pod is still in the Service and
// whether an EndpointSlice still lists it) and the time, decide the status and the writes.
// Everything is re-read each time: a member's drain is written on the member itself (its
// deletionTimestamp, the drained annotation, the PeaSet's finalizer on it), so an operator
// killed at any point resumes where it was and never starts, stops or loses a member twice.
import {
  PEASET_DEFAULTS,
  PeaSetCondition,
  type PeaSet,
  type PeaSetConditionEntry,
  type PeaSetStatus,
} from '../../api/v1alpha1/peaset.js';
import type { Pea } from '../../api/v1alpha1/types.js';
import { PeaSetReason } from '../../shared/words.js';
import { ANNOTATION_LET_GO, DRAIN_FINALIZER, type PeaEvent } from '../decide.js';
import {
  ANNOTATION_DRAINED,
  ENDPOINTS_WAIT_SECONDS,
  LABEL_PEASET,
  LABEL_REVISION,
  memberEnded,
  ordinalOf,
  readySince,
  revisionOf,
} from './members.js';

/** What the reconciler knows of one member. */
export interface MemberView {
  pea: Pea;
  /** Its current pod (if any) still carries the label the Service selects. */
  inService: boolean;
  /** An EndpointSlice of the PeaSet's Service lists its pod as ready or serving. */
  listed: boolean;
  /**
   * Its pod is being deleted while the member is not (an eviction, `kubectl delete pod`): the
   * pod's preStop holds, NOT_SERVING, while the same drain runs on the pod; then Cancel.
   */
  podStopping?: { since: Date; drained?: Date };
}

/** A write towards the PeaSet's spec; the reconciler makes them in this order. */
export type PeaSetAction =
  | { kind: 'addFinalizer' }
  | { kind: 'applyService' }
  | { kind: 'applyDisruptionBudget' }
  | { kind: 'createMember'; ordinal: number }
  /** Starts the member's drain: the Pea gets a deletionTimestamp, the PeaSet's finalizer holds it. */
  | { kind: 'deleteMember'; name: string }
  /** Drain step 1: its pod loses the label the Service selects. */
  | { kind: 'leaveService'; name: string }
  /** Drain step 2 is over: no EndpointSlice lists it (or the wait ran out). */
  | { kind: 'markDrained'; name: string }
  /** Drain steps 3-4: drainSeconds are over; the Pea controller may cancel it (ANNOTATION_LET_GO). */
  | { kind: 'letGoMember'; name: string }
  /** The member has ended: the PeaSet's finalizer comes off, and the Pea is gone. */
  | { kind: 'releaseMember'; name: string }
  /** The same for a member's pod that is being deleted: the mark goes on the pod... */
  | { kind: 'markPodDrained'; name: string }
  /** ...and the Cancel RPC to it ends the preStop hold. */
  | { kind: 'cancelPod'; name: string }
  | { kind: 'removeFinalizer' };

/** What decidePeaSet() wants. */
export interface PeaSetDecision {
  status: PeaSetStatus;
  actions: PeaSetAction[];
  events: PeaEvent[];
  requeueAfterMs?: number;
}

/** How long a member whose runtime ended for good stays, for `kubectl describe`, before it is replaced. */
export const ENDED_MEMBER_SECONDS = 10;

/** The strategy's bounds, resolved: members above replicas, and replicas that may be unavailable. */
export function bounds(set: PeaSet): { surge: number; unavailable: number } {
  const u = set.spec.updateStrategy ?? {};
  if (u.type === 'Replace') return { surge: 0, unavailable: Math.max(1, u.maxUnavailable ?? 1) };
  const surge = u.maxSurge ?? PEASET_DEFAULTS.maxSurge;
  const unavailable = u.maxUnavailable ?? 0;
  return surge + unavailable > 0 ? { surge, unavailable } : { surge, unavailable: 1 };
}

interface Member extends MemberView {
  name: string;
  ordinal: number;
  deleting: boolean;
  updated: boolean;
  ready: boolean;
  available: boolean;
  /** When it turns available (minReadySeconds), if it is Ready but not yet. */
  availableAt?: number;
}

/** The Decision for a PeaSet, its members and the time: pure, so a table of rows tests it. */
export function decidePeaSet(set: PeaSet, views: MemberView[], now: Date): PeaSetDecision {
  const d: PeaSetDecision = { status: {}, actions: [], events: [] };
  const t = now.getTime();
  const deleting = Boolean(set.metadata.deletionTimestamp);
  const n = deleting ? 0 : (set.spec.replicas ?? PEASET_DEFAULTS.replicas);
  const revision = revisionOf(set);
  const minReadyMs = (set.spec.minReadySeconds ?? 0) * 1000;
  const members = views.flatMap((v) => view(v, revision, minReadyMs, t));
  const hasFinalizer = (set.metadata.finalizers ?? []).includes(DRAIN_FINALIZER);
  if (!deleting && !hasFinalizer) d.actions.push({ kind: 'addFinalizer' });
  if (!deleting && set.spec.service) d.actions.push({ kind: 'applyService' });
  if (!deleting) d.actions.push({ kind: 'applyDisruptionBudget' });

  const wake = (at: number): void => {
    const ms = Math.max(at - t, 100);
    d.requeueAfterMs = d.requeueAfterMs === undefined ? ms : Math.min(d.requeueAfterMs, ms);
  };
  for (const m of members) if (m.availableAt !== undefined) wake(m.availableAt);
  for (const m of members.filter((x) => x.deleting)) drainMember(set, m, t, d, wake);
  for (const m of members.filter((x) => !x.deleting && x.podStopping)) drainPod(set, m, t, d, wake);
  const stops = chooseStops(members, n, bounds(set), t, wake);
  for (const m of stops) {
    d.actions.push({ kind: 'deleteMember', name: m.name });
    d.events.push({ type: 'Normal', reason: PeaSetReason.Draining, message: `draining member ${m.name}` });
  }
  for (const ordinal of chooseCreates(members, n, bounds(set), stops.length)) {
    d.actions.push({ kind: 'createMember', ordinal });
  }
  if (deleting && hasFinalizer && members.length === 0) d.actions.push({ kind: 'removeFinalizer' });
  d.status = status(set, members, n, revision, d, now, wake);
  return d;
}

function view(v: MemberView, revision: string, minReadyMs: number, t: number): Member[] {
  const ordinal = ordinalOf(v.pea);
  if (ordinal === undefined) return []; // not a member the PeaSet made: left alone
  const deleting = Boolean(v.pea.metadata.deletionTimestamp);
  // A member whose pod is going serves no more, whatever its Ready condition still says.
  const since = deleting || v.podStopping ? undefined : readySince(v.pea);
  const available = since !== undefined && t - since.getTime() >= minReadyMs;
  return [
    {
      ...v,
      name: v.pea.metadata.name as string,
      ordinal,
      deleting,
      updated: v.pea.metadata.labels?.[LABEL_REVISION] === revision,
      ready: since !== undefined,
      available,
      ...(since && !available ? { availableAt: since.getTime() + minReadyMs } : {}),
    },
  ];
}

/** The drain of a member being stopped (deleted): its steps, the Pea controller's cancel, the release. */
function drainMember(set: PeaSet, m: Member, t: number, d: PeaSetDecision, wake: (at: number) => void): void {
  if (!(m.pea.metadata.finalizers ?? []).includes(DRAIN_FINALIZER)) return; // released already
  // A member with nothing running has nothing to drain.
  const running = !memberEnded(m.pea) && Boolean(m.pea.status?.podName);
  if (!running) return void d.actions.push({ kind: 'releaseMember', name: m.name });
  // Let go of: the Pea controller cancels it; its end brings it back here, to be released.
  if (m.pea.metadata.annotations?.[ANNOTATION_LET_GO]) return;
  const started = new Date(m.pea.metadata.deletionTimestamp as unknown as string).getTime();
  const drained = Date.parse(m.pea.metadata.annotations?.[ANNOTATION_DRAINED] ?? '');
  drain(set, m, { started, drained, mark: 'markDrained', done: 'letGoMember' }, t, d, wake);
}

/** The drain of a member's pod that is being deleted while the member is not (an eviction). */
function drainPod(set: PeaSet, m: Member, t: number, d: PeaSetDecision, wake: (at: number) => void): void {
  const p = m.podStopping as NonNullable<Member['podStopping']>;
  const drained = p.drained ? p.drained.getTime() : NaN;
  drain(
    set,
    m,
    { started: p.since.getTime(), drained, mark: 'markPodDrained', done: 'cancelPod' },
    t,
    d,
    wake,
  );
}

/** Where a drain stands and what its steps write. */
interface DrainState {
  started: number;
  /** NaN until marked. */
  drained: number;
  mark: 'markDrained' | 'markPodDrained';
  done: 'letGoMember' | 'cancelPod';
}

/** Drain steps: leave the Service, wait for the EndpointSlices (bounded), mark, wait drainSeconds, done. */
function drain(
  set: PeaSet,
  m: Member,
  s: DrainState,
  t: number,
  d: PeaSetDecision,
  wake: (at: number) => void,
): void {
  if (m.inService) d.actions.push({ kind: 'leaveService', name: m.name });
  const drained = s.drained;
  if (Number.isNaN(drained)) {
    const deadline = s.started + ENDPOINTS_WAIT_SECONDS * 1000;
    if (!m.inService && !m.listed) d.actions.push({ kind: s.mark, name: m.name });
    else if (t >= deadline) {
      d.actions.push({ kind: s.mark, name: m.name });
      const message =
        `member ${m.name} was still listed by an EndpointSlice of Service ${set.metadata.name} after ` +
        `${ENDPOINTS_WAIT_SECONDS}s; stopping it anyway (is the EndpointSlice controller running?)`;
      d.events.push({ type: 'Warning', reason: PeaSetReason.DrainTimeout, message });
    } else wake(deadline);
    // drainSeconds count from the mark, which the next pass reads back.
    return;
  }
  const due = drained + (set.spec.drainSeconds ?? PEASET_DEFAULTS.drainSeconds) * 1000;
  if (t >= due) d.actions.push({ kind: s.done, name: m.name });
  else wake(due);
}

/**
 * Which live members to stop now. Free (no member that serves is lost): those whose runtime
 * ended (after ENDED_MEMBER_SECONDS), and unavailable ones that are outdated or surplus. Then
 * available ones, as long as at least replicas − maxUnavailable stay available: outdated
 * members above replicas, outdated ones below (highest ordinal first), then surplus updated
 * ones above replicas once no outdated member is left below.
 */
function chooseStops(
  members: Member[],
  n: number,
  b: { surge: number; unavailable: number },
  t: number,
  wake: (at: number) => void,
): Member[] {
  const live = members.filter((m) => !m.deleting);
  const outdatedBelow = live.filter((m) => m.ordinal < n && !m.updated);
  // Updated members above replicas stand in for outdated ones below while a surge rolls.
  const standIns = new Set(
    live
      .filter((m) => m.ordinal >= n && m.updated)
      .sort((a, c) => a.ordinal - c.ordinal)
      .slice(0, Math.min(outdatedBelow.length, b.surge))
      .map((m) => m.name),
  );
  const surplus = (m: Member): boolean => m.ordinal >= n && !standIns.has(m.name);
  const stops: Member[] = [];
  for (const m of live.filter((x) => memberEnded(x.pea))) {
    const ended = Date.parse(m.pea.status?.finishTime ?? '') || 0;
    if (t >= ended + ENDED_MEMBER_SECONDS * 1000) stops.push(m);
    else wake(ended + ENDED_MEMBER_SECONDS * 1000);
  }
  const rest = live.filter((m) => !memberEnded(m.pea));
  stops.push(...rest.filter((m) => !m.available && (!m.updated || surplus(m))));
  let available = rest.filter((m) => m.available).length;
  const floor = n - b.unavailable;
  const byOrdinalDesc = (a: Member, c: Member): number => c.ordinal - a.ordinal;
  const candidates = [
    ...rest.filter((m) => m.available && !m.updated && m.ordinal >= n).sort(byOrdinalDesc),
    ...rest.filter((m) => m.available && !m.updated && m.ordinal < n).sort(byOrdinalDesc),
    ...(outdatedBelow.length === 0
      ? rest.filter((m) => m.available && m.updated && surplus(m)).sort(byOrdinalDesc)
      : []),
  ];
  for (const m of candidates) {
    if (available - 1 < floor) break;
    stops.push(m);
    available--;
  }
  return stops;
}

/**
 * Which ordinals to create: every free one below replicas, then (Surge) stand-ins above it
 * for the outdated members still below, never more members than replicas + maxSurge.
 * An ordinal whose member is still draining is not free: its successor waits for it.
 */
function chooseCreates(
  members: Member[],
  n: number,
  b: { surge: number; unavailable: number },
  stopping: number,
): number[] {
  const taken = new Set(members.map((m) => m.ordinal));
  let total = members.length;
  const creates: number[] = [];
  for (let i = 0; i < n && total < n + b.surge; i++) {
    if (taken.has(i)) continue;
    creates.push(i);
    taken.add(i);
    total++;
  }
  const live = members.filter((m) => !m.deleting);
  const outdatedBelow = live.filter((m) => m.ordinal < n && !m.updated).length;
  let standIns = live.filter((m) => m.ordinal >= n && m.updated).length;
  // Stand-ins are wanted only while outdated members wait, and not while this pass stops some.
  for (let i = n; standIns < outdatedBelow && stopping === 0 && total < n + b.surge; i++) {
    if (taken.has(i)) continue;
    creates.push(i);
    taken.add(i);
    total++;
    standIns++;
  }
  return creates;
}

function status(
  set: PeaSet,
  members: Member[],
  n: number,
  revision: string,
  d: PeaSetDecision,
  now: Date,
  wake: (at: number) => void,
): PeaSetStatus {
  const old = readStatus(set.status);
  const live = members.filter((m) => !m.deleting);
  const s: PeaSetStatus = {
    observedGeneration: set.metadata.generation,
    replicas: live.length,
    readyReplicas: live.filter((m) => m.ready).length,
    availableReplicas: live.filter((m) => m.available).length,
    updatedReplicas: live.filter((m) => m.updated).length,
    updateRevision: revision,
    selector: `${LABEL_PEASET}=${set.metadata.name}`,
  };
  const { unavailable } = bounds(set);
  const done =
    members.length === n && live.length === n && live.every((m) => m.updated && m.available && m.ordinal < n);
  // Writes that change the members count; the drain's steps repeat while the caches catch up.
  const moved =
    d.actions.some((a) => ['createMember', 'deleteMember', 'releaseMember'].includes(a.kind)) ||
    old.observedGeneration !== s.observedGeneration ||
    (['replicas', 'readyReplicas', 'availableReplicas', 'updatedReplicas'] as const).some(
      (k) => old[k] !== s[k],
    );
  s.lastProgressTime = moved || !old.lastProgressTime ? now.toISOString() : old.lastProgressTime;
  const deadline =
    Date.parse(s.lastProgressTime) +
    (set.spec.progressDeadlineSeconds ?? PEASET_DEFAULTS.progressDeadlineSeconds) * 1000;
  const stuck = !done && now.getTime() >= deadline;
  if (!done && !stuck) wake(deadline);
  const available = (s.availableReplicas ?? 0) >= n - unavailable;
  const progressing: Omit<PeaSetConditionEntry, 'lastTransitionTime'> = done
    ? {
        type: PeaSetCondition.Progressing,
        status: 'True',
        reason: PeaSetReason.RolloutComplete,
        message: `all ${n} members are updated and available`,
      }
    : stuck
      ? {
          type: PeaSetCondition.Progressing,
          status: 'False',
          reason: PeaSetReason.ProgressDeadlineExceeded,
          message:
            `no progress for ${set.spec.progressDeadlineSeconds ?? PEASET_DEFAULTS.progressDeadlineSeconds}s: ` +
            `${s.updatedReplicas} of ${n} members updated, ${s.availableReplicas} available; ` +
            'see kubectl describe on the members (Peas) that are not Ready',
        }
      : {
          type: PeaSetCondition.Progressing,
          status: 'True',
          reason: PeaSetReason.Progressing,
          message: `${s.updatedReplicas} of ${n} members updated, ${s.availableReplicas} available`,
        };
  const availability: Omit<PeaSetConditionEntry, 'lastTransitionTime'> = {
    type: PeaSetCondition.Available,
    status: available ? 'True' : 'False',
    reason: available ? PeaSetReason.MinimumReplicasAvailable : PeaSetReason.MinimumReplicasUnavailable,
    message: `${s.availableReplicas} of ${n} members available (at least ${Math.max(0, n - unavailable)} wanted)`,
  };
  const wasStuck = old.conditions?.some(
    (c) => c.type === PeaSetCondition.Progressing && c.reason === PeaSetReason.ProgressDeadlineExceeded,
  );
  if (stuck && !wasStuck)
    d.events.push({
      type: 'Warning',
      reason: PeaSetReason.ProgressDeadlineExceeded,
      message: progressing.message,
    });
  s.conditions = [availability, progressing].map((c) => {
    const prev = old.conditions?.find((x) => x.type === c.type);
    const same = prev?.status === c.status;
    return {
      ...c,
      observedGeneration: set.metadata.generation,
      lastTransitionTime: same && prev ? prev.lastTransitionTime : now.toISOString(),
    };
  });
  return s;
}

/** The status as the operator can use it: fields of the wrong shape (a hand edit) are dropped. */
export function readStatus(raw: unknown): PeaSetStatus {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return {};
  const s = { ...(raw as Record<string, unknown>) };
  for (const k of ['observedGeneration', 'replicas', 'readyReplicas', 'availableReplicas', 'updatedReplicas'])
    if (typeof s[k] !== 'number') delete s[k];
  if (typeof s.lastProgressTime !== 'string' || Number.isNaN(Date.parse(s.lastProgressTime)))
    delete s.lastProgressTime;
  const ok = (c: unknown): boolean =>
    typeof c === 'object' && c !== null && typeof (c as { type?: unknown }).type === 'string';
  if (!Array.isArray(s.conditions) || !s.conditions.every(ok)) delete s.conditions;
  return s as PeaSetStatus;
}

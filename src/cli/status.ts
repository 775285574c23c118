// `kubectl pea status NAME`: the story of one Pea, as a pure function of what the API
// server holds (the Pea, its pod, their Warning Events) and the time: phase and reason, the
// pod and its node, the timeline with each step's duration, restarts, the last Warnings, and
// for a Pea that is not getting anywhere, why, in one line.
import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import { ConditionType, type Pea, type Timeline } from '../api/v1alpha1/types.js';
import { RUNTIME_CONTAINER, SIDECAR_CONTAINER, timeoutsOf } from '../operator/pod.js';
import { mergeTimeline, podTimeline } from '../operator/timeline.js';
import { podWait } from '../operator/waits.js';
import { WaitReason } from '../shared/words.js';
import { between, clock, cut, duration, table, WIDTH, wrap } from './format.js';

/** What the status of one Pea is told from. */
export interface StatusInput {
  pea: Pea;
  /** The pod of its current run, if it still exists. */
  pod?: V1Pod;
  /** Warning Events about the Pea and its pod, oldest first. */
  warnings: CoreV1Event[];
}

/** How many Warning Events are shown, the latest. */
const WARNINGS = 5;

/** The lines `kubectl pea status` prints. */
export function renderStatus({ pea, pod, warnings }: StatusInput, now: Date): string[] {
  const s = pea.status ?? {};
  const ns = pea.metadata.namespace ?? '';
  const phase = s.phase ?? 'Pending';
  const ready = s.conditions?.find((c) => c.type === ConditionType.Ready);
  const reason = finished(phase) ? s.reason : (ready?.reason ?? s.reason);
  const out = [cut(`Pea ${ns}/${pea.metadata.name}: ${phase}${reason ? ` (${reason})` : ''}`, WIDTH)];
  const message = finished(phase) ? s.message : (ready?.message ?? s.message);
  if (message) out.push(...wrap(message, '  '));
  const why = whyStuck(pea, pod, now);
  if (why) out.push(cut(`why: ${why}`, WIDTH));
  out.push(podLine(pea, pod));
  out.push(...restartLines(pea));
  out.push('', ...timelineLines(pea, pod, now));
  if (warnings.length > 0) {
    out.push('', 'Last Warning Events:');
    const rows = warnings.slice(-WARNINGS).map((e) => {
      const at = e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp;
      const ago = at ? duration(now.getTime() - new Date(at).getTime()) : '?';
      return [`  ${ago} ago`, e.reason ?? '', e.message ?? ''];
    });
    out.push(...table([['  AGE', 'REASON', 'MESSAGE'], ...rows], [0, 28]));
  }
  return out;
}

const finished = (phase: string) => phase === 'Succeeded' || phase === 'Failed';

function podLine(pea: Pea, pod: V1Pod | undefined): string {
  const name = pea.status?.podName;
  if (!name) return 'pod: none yet';
  if (!pod) return cut(`pod: ${name} (deleted)`, WIDTH);
  const node = pod.spec?.nodeName ? ` on node ${pod.spec.nodeName}` : ' (not scheduled)';
  const ip = pod.status?.podIP ? `, IP ${pod.status.podIP}` : '';
  return cut(`pod: ${name}${node}${ip}, pod phase ${pod.status?.phase ?? 'Pending'}`, WIDTH);
}

function restartLines(pea: Pea): string[] {
  const s = pea.status ?? {};
  const lines = [
    `restarts: ${s.restartCount ?? 0} (spec.restartPolicy ${pea.spec.restartPolicy ?? 'Never'})`,
  ];
  const last = s.lastTermination;
  if (last) {
    const exit = last.exitCode !== undefined ? `, exit ${last.exitCode}` : '';
    const pod = last.podName ? ` of pod ${last.podName}` : '';
    lines.push(cut(`last termination: ${last.reason}${exit}${pod} at ${clock(last.finishTime)}`, WIDTH));
    lines.push(...wrap(last.message, '  '));
  }
  return lines;
}

/** The steps of the run, in order: [label, time]; Timeline times from the status, else the live pod. */
function steps(pea: Pea, pod: V1Pod | undefined): Array<[string, string | undefined]> {
  const s = pea.status ?? {};
  const live = pod && pod.metadata?.name === s.podName ? podTimeline(pod) : {};
  const t: Timeline = mergeTimeline(s.timeline, live);
  return [
    ['created', s.startTime ?? pod?.metadata?.creationTimestamp?.toString()],
    ['pod scheduled', t.podScheduledTime],
    ['sidecar started', t.sidecarStartedTime],
    ['runtime started', t.runtimeStartedTime],
    ['ready check passed', t.readyCheckTime],
    ['Ready', s.readyTime],
    ['cancel sent', s.cancelTime],
    ['runtime exited', t.runtimeExitedTime],
    ['teardown done', t.teardownTime],
    ['ended', s.finishTime],
  ];
}

function timelineLines(pea: Pea, pod: V1Pod | undefined, now: Date): string[] {
  const all = steps(pea, pod);
  const created = all[0]?.[1];
  const rows: string[][] = [];
  let previous: string | undefined;
  for (const [label, at] of all) {
    if (!at) continue;
    const since = between(created, at);
    const took = between(previous, at);
    rows.push([
      `  ${label}`,
      clock(at),
      since === undefined ? '' : `+${duration(since)}`,
      took === undefined ? '' : duration(took),
    ]);
    previous = at;
  }
  if (rows.length === 0) return ['Timeline: nothing has happened yet'];
  const phase = pea.status?.phase ?? 'Pending';
  if (!finished(phase) && previous) {
    rows.push([
      `  (now, ${phase})`,
      clock(now.toISOString()),
      `+${duration(between(created, now.toISOString()) ?? 0)}`,
      duration(between(previous, now.toISOString()) ?? 0),
    ]);
  }
  return ['Timeline:', ...table([['  STEP', 'AT', 'SINCE CREATED', 'TOOK'], ...rows])];
}

/** What the runtime's ready check is, as the sidecar's --ready flag names it, e.g. grpc://:50061. */
export function readyCheckShort(pea: Pea): string {
  const r = pea.spec.ready;
  if (r?.grpc) return `grpc://:${r.grpc.port}${r.grpc.service ? `/${r.grpc.service}` : ''}`;
  if (r?.http) return `http://:${r.http.port}${r.http.path ?? '/'}`;
  if (r?.tcp) return `tcp://:${r.tcp.port}`;
  return 'none';
}

/** One line on why a Pea that has not ended is not where it should be; undefined when nothing holds it. */
export function whyStuck(pea: Pea, pod: V1Pod | undefined, now: Date): string | undefined {
  const s = pea.status ?? {};
  const t = timeoutsOf(pea);
  const since = (at: string | undefined) => duration(between(at, now.toISOString()) ?? 0);
  switch (s.phase) {
    case 'Starting': {
      if (!pod) return `waiting for the pod ${s.podName ?? ''} to show up`;
      const w = podWait(pod, pea.spec.ready);
      const budget =
        t.readySeconds > 0 ? `of readySeconds ${t.readySeconds}` : '(readySeconds 0: waits forever)';
      if (w.reason === WaitReason.RuntimeNotReady) {
        const from = podTimeline(pod).runtimeStartedTime ?? s.startTime;
        return `ready check ${readyCheckShort(pea)} failing for ${since(from)} ${budget}`;
      }
      const held = containerHeld(pod);
      if (held)
        return `${held.what} for ${since(s.startTime)} ${budget}${held.message ? `: ${held.message}` : ''}`;
      return `${w.reason} for ${since(s.startTime)} ${budget}: ${w.message}`;
    }
    case 'Ready': {
      const ready = s.conditions?.find((c) => c.type === ConditionType.Ready);
      return ready?.status === 'False' ? `not ready now: ${ready.message}` : undefined;
    }
    case 'Cancelling': {
      const exited = pod ? podTimeline(pod).runtimeExitedTime : undefined;
      if (exited) return `the runtime exited ${since(exited)} ago; the sidecar is tearing down`;
      return `cancel sent ${since(s.cancelTime)} ago; the runtime has not exited (cancelSeconds ${t.cancelSeconds})`;
    }
    case 'Pending':
      return s.lastTermination
        ? `waiting to restart: ${s.message ?? ''}`
        : 'the operator has not created the pod yet';
    default:
      return undefined;
  }
}

/** A container the kubelet holds back, in a few words: e.g. "image pull back-off on runtime", and its message. */
function containerHeld(pod: V1Pod): { what: string; message?: string } | undefined {
  const all = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  for (const name of [SIDECAR_CONTAINER, RUNTIME_CONTAINER]) {
    const w = all.find((c) => c.name === name)?.state?.waiting;
    if (!w?.reason || w.reason === 'ContainerCreating' || w.reason === 'PodInitializing') continue;
    const what = /ImagePull|ErrImage/.test(w.reason) ? 'image pull back-off' : w.reason;
    return { what: `${what} on ${name}`, message: w.message };
  }
  return undefined;
}

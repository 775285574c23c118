// When each step of a Pea's run happened, read from its pod as the kubelet and the scheduler
// wrote it: pure, so the operator (status.timeline) and `kubectl pea status` (a live pod
// the status has not caught up with) tell the same times.
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import type { Timeline } from '../api/v1alpha1/types.js';
import { RUNTIME_CONTAINER, SIDECAR_CONTAINER } from './pod.js';

/** The Timeline keys in lifecycle order. */
export const TIMELINE_KEYS = [
  'podScheduledTime',
  'sidecarStartedTime',
  'runtimeStartedTime',
  'readyCheckTime',
  'runtimeExitedTime',
  'teardownTime',
] as const satisfies ReadonlyArray<keyof Timeline>;

/** An API time (a Date from client-node, or the string on the wire) as RFC 3339; undefined if not a time. */
export function isoTime(t: Date | string | undefined | null): string | undefined {
  if (t === undefined || t === null) return undefined;
  const d = new Date(t);
  return Number.isFinite(d.getTime()) ? d.toISOString().replace(/\.\d{3}Z$/, 'Z') : undefined;
}

function container(pod: V1Pod, name: string): V1ContainerStatus | undefined {
  return [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])].find(
    (c) => c.name === name,
  );
}

const started = (c?: V1ContainerStatus) => c?.state?.running?.startedAt ?? c?.state?.terminated?.startedAt;

/** The steps this pod shows as done, each with the time the part that did it wrote. */
export function podTimeline(pod: V1Pod): Timeline {
  const cond = (type: string) =>
    pod.status?.conditions?.find((c) => c.type === type && c.status === 'True')?.lastTransitionTime;
  const sidecar = container(pod, SIDECAR_CONTAINER);
  const runtime = container(pod, RUNTIME_CONTAINER);
  const seen: Record<string, string | undefined> = {
    podScheduledTime: isoTime(cond('PodScheduled')),
    sidecarStartedTime: isoTime(started(sidecar)),
    runtimeStartedTime: isoTime(started(runtime)),
    readyCheckTime: isoTime(cond('Ready')),
    runtimeExitedTime: isoTime(runtime?.state?.terminated?.finishedAt),
    teardownTime: isoTime(sidecar?.state?.terminated?.finishedAt),
  };
  return Object.fromEntries(Object.entries(seen).filter(([, v]) => v !== undefined));
}

/** `old` with the steps it lacks taken from `seen`: a time once written never changes. */
export function mergeTimeline(old: Timeline | undefined, seen: Timeline): Timeline {
  const out: Timeline = { ...old };
  for (const k of TIMELINE_KEYS) out[k] ??= seen[k];
  for (const k of TIMELINE_KEYS) if (out[k] === undefined) delete out[k];
  return out;
}

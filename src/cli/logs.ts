// `kubectl pea logs NAME`: the runtime's log and the sidecar's, interleaved by the kubelet's
// timestamps, each line named with its container, so that what the sidecar did (ready,
// cancel, SIGTERM, teardown) reads beside what the runtime said at the time.
import { RUNTIME_CONTAINER, SIDECAR_CONTAINER } from '../operator/pod.js';

/** One log line of one container. */
export interface LogLine {
  container: string;
  /** RFC 3339 with nanoseconds, as the kubelet writes it. */
  time: string;
  text: string;
}

/** The containers whose logs are interleaved: the sidecar first, as it starts first. */
export const LOG_CONTAINERS = [SIDECAR_CONTAINER, RUNTIME_CONTAINER] as const;

/** A container's log as fetched with timestamps=true, split into lines. */
export function parseLog(container: string, log: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const raw of log.split('\n')) {
    if (raw === '') continue;
    const space = raw.indexOf(' ');
    const time = space > 0 ? raw.slice(0, space) : '';
    if (space > 0 && Number.isFinite(Date.parse(time)))
      lines.push({ container, time, text: raw.slice(space + 1) });
    // A line without a timestamp continues the one before it (the kubelet never writes one).
    else {
      const last = lines.at(-1);
      if (last) last.text += `\n${raw}`;
    }
  }
  return lines;
}

/**
 * A time that sorts as text: the kubelet writes RFC 3339 in UTC with up to nine digits of
 * fraction and trailing zeros dropped (10:00:01Z, 10:00:01.5Z), so the fraction is padded.
 */
function sortKey(time: string): string {
  const m = /^(.*:\d\d)(?:\.(\d+))?Z$/.exec(time);
  return m ? `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}` : time;
}

/** Lines of several containers in time order; lines at the same time keep each container's order. */
export function interleave(logs: LogLine[][]): LogLine[] {
  const keyed = logs.flat().map((l) => ({ l, k: sortKey(l.time) }));
  // A stable sort keeps each log's own order among lines of the same time.
  return keyed.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0)).map((x) => x.l);
}

/** A line as printed: the container, padded, then the text (after its time with `timestamps`). */
export function formatLine(l: LogLine, timestamps: boolean): string {
  const name = l.container.padEnd(Math.max(...LOG_CONTAINERS.map((c) => c.length)));
  return `${name} | ${timestamps ? `${l.time} ` : ''}${l.text}`;
}

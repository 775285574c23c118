// Lets the example runtimes leave a trace a test can read: one JSON line per lifecycle step
// appended to $PEA_EVENTS_FILE (e.g. on a volume the runtime and a test share).
import { appendFileSync } from 'node:fs';

export function recordEvent(event: string, extra: Record<string, unknown> = {}): void {
  const file = process.env.PEA_EVENTS_FILE;
  if (file) appendFileSync(file, `${JSON.stringify({ event, pid: process.pid, t: Date.now(), ...extra })}\n`);
}

// Kubernetes shows a container's termination message (the file at
// terminationMessagePath, /dev/termination-log by default) in its status, where the
// operator and `kubectl describe` read why it ended.
import { existsSync, writeFileSync } from 'node:fs';
import type { Logger } from '../shared/logger.js';

/** Where the kubelet reads a container's termination message. */
export const DEFAULT_TERMINATION_LOG = '/dev/termination-log';

/** Kubernetes keeps at most 4096 bytes of it. */
const MAX_BYTES = 4096;

/** Writes why the runtime ended where the kubelet shows it; a failure is logged, never thrown. */
export function writeTerminationMessage(path: string, text: string, log: Logger): void {
  // Outside a pod the default path does not exist; creating files in /dev would be wrong.
  if (path === DEFAULT_TERMINATION_LOG && !existsSync(path)) return;
  try {
    writeFileSync(path, Buffer.from(text).subarray(0, MAX_BYTES));
  } catch (err) {
    log.warn({ path, err }, 'could not write the termination message: check --termination-log');
  }
}

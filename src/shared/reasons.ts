// The words that say how a runtime ended. The same strings appear in the sidecar's
// RuntimeStatus.reason (proto), the Pea's terminal condition reason (CRD) and the README.
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

export type Reason = (typeof Reason)[keyof typeof Reason];

// What `kubectl pea` exits with, for scripts: one table, the same for every command.

/** Exit codes of `kubectl pea`. */
export const Exit = {
  /** Done; for `cancel --wait`, the Pea ended Succeeded. */
  Ok: 0,
  /** The cluster could not be reached or refused a call, or a pod has no logs to give. */
  Error: 1,
  /** A flag or argument is wrong (the message says which). */
  Usage: 2,
  /** The Pea does not exist in that namespace. */
  NotFound: 3,
  /** `cancel --wait`: the Pea ended, but Failed (e.g. CancelTimeout). */
  EndedFailed: 4,
  /** `cancel --wait`: the Pea had not ended within --timeout. */
  Timeout: 5,
} as const;

/** A failure `kubectl pea` reports on stderr and exits with. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code: number = Exit.Error,
  ) {
    super(message);
  }
}

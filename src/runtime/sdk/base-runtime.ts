// The seed's Runtime contract in TypeScript. A runtime is a procedure that blocks once
// running; a host (host.ts) drives it: init → runForever → teardown, with cancel from outside.
import type { Logger } from '../../shared/logger.js';

/** The seed's ready event: runForever sets it once the runtime can take work. */
export class ReadyEvent {
  private resolve!: () => void;
  private readonly promise = new Promise<void>((r) => (this.resolve = r));
  private set_ = false;

  set(): void {
    if (this.set_) return;
    this.set_ = true;
    this.resolve();
  }

  get isSet(): boolean {
    return this.set_;
  }

  wait(): Promise<void> {
    return this.promise;
  }
}

/** What a runtime gets when it is constructed. */
export interface RuntimeContext {
  /** Arguments after the runtime's module or script, as given. */
  args: string[];
  log: Logger;
}

/**
 * Subclass this. The host calls, in order:
 *  1. the constructor, then `init()` (set-up; if either throws, teardown is skipped),
 *  2. `runForever(ready)`: must call `ready.set()` when it can take work, and must not
 *     return until `cancel()` unblocks it (or it fails: throwing goes straight to teardown),
 *  3. `teardown()`: exactly once after runForever returned or threw. Cleaning, not cancelling.
 * `cancel()` is called from outside (SIGTERM/SIGINT, i.e. the sidecar or the kubelet), may be
 * called more than once, and may come before runForever even started.
 * As the seed says: do not catch exceptions you are unsure about; the host reports them.
 */
export abstract class BaseRuntime {
  constructor(protected readonly context: RuntimeContext) {}

  async init(): Promise<void> {}

  abstract runForever(ready: ReadyEvent): Promise<void>;

  abstract cancel(): void | Promise<void>;

  async teardown(): Promise<void> {}
}

/** A BaseRuntime subclass, as `pea-runtime run MODULE` expects its default export. */
export type RuntimeClass = new (context: RuntimeContext) => BaseRuntime;

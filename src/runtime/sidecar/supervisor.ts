// The seed's lifecycle, driven from outside the runtime:
//   starting → ready (ready check passes) → cancelling (Cancel RPC, SIGTERM or preStop)
//   → tearing-down (runtime exited, whichever way) → exited (teardown done, once).
// Cancel order: health NOT_SERVING first (drain), then SIGTERM, then SIGKILL after the
// cancel timeout. Every trigger may arrive more than once and in any order.
import { EventEmitter } from 'node:events';
import { constants } from 'node:os';
import type { Logger } from '../../shared/logger.js';
import type { Phase } from '../../shared/lifecycle-proto.js';
import { Reason } from '../../shared/words.js';
import type { ReadyCheck } from './ready-check.js';
import { RuntimeNotFoundError, type RuntimeExit, type RuntimeProcess } from './runtime-process.js';
import type { TeardownResult } from './teardown.js';

/** What the supervisor needs: how to start the runtime, check it and tear down after it. */
export interface SupervisorOptions {
  /** Starts or finds the runtime; resolves null if aborted first (cancel before start). */
  launch(signal: AbortSignal): Promise<RuntimeProcess | null>;
  readyCheck: ReadyCheck;
  readyPeriodMs: number;
  cancelTimeoutMs: number;
  /** Runs after the runtime exited; given the time left in the teardown budget. */
  teardown(budgetMs: number): Promise<TeardownResult>;
  teardownTimeoutMs: number;
  /** False in attach mode: exit codes of a sibling container are not visible from here. */
  exitCodeKnown: boolean;
  log: Logger;
}

/** Plain snapshot of the state; times are epoch milliseconds. */
export interface SupervisorStatus {
  phase: Phase;
  ready: boolean;
  exitCode?: number;
  signal: string;
  reason: string;
  message: string;
  pid: number;
  startedTime?: number;
  readyTime?: number;
  cancelTime?: number;
  exitTime?: number;
  teardownTime?: number;
}

/** The status once the cancel began (or as an earlier cancel or the runtime's end left it), and whether one had. */
export interface CancelResult {
  status: SupervisorStatus;
  alreadyCancelled: boolean;
}

/** The runtime's lifecycle: start, ready, cancel, exit and teardown, each once; emits 'change' on each step. */
export class Supervisor extends EventEmitter<{ change: [SupervisorStatus] }> {
  private state: SupervisorStatus = {
    phase: 'PHASE_STARTING',
    ready: false,
    signal: '',
    reason: '',
    message: '',
    pid: 0,
  };
  private runtime: RuntimeProcess | null = null;
  private readonly launchAbort = new AbortController();
  private killTimer: NodeJS.Timeout | undefined;
  private readyTimer: NodeJS.Timeout | undefined;
  private killedByUs = false;
  private cancelReason = '';
  /** NOT_SERVING until cancelled (drain()): the ready check no longer turns it back. */
  private draining = false;
  private resolveDone!: (s: SupervisorStatus) => void;
  /** Resolves once, when teardown has finished and the status is final. */
  readonly done = new Promise<SupervisorStatus>((r) => (this.resolveDone = r));

  constructor(private readonly opts: SupervisorOptions) {
    super();
  }

  get status(): SupervisorStatus {
    return { ...this.state };
  }

  get cancelled(): boolean {
    return this.state.cancelTime !== undefined;
  }

  async start(): Promise<void> {
    this.update({ startedTime: Date.now() }, 'starting');
    try {
      this.runtime = await this.opts.launch(this.launchAbort.signal);
    } catch (err) {
      const message =
        err instanceof RuntimeNotFoundError ? err.message : `runtime could not start: ${String(err)}`;
      return this.finish({ code: 127, signal: null }, { reason: Reason.FailedToStart, message });
    }
    if (!this.runtime)
      return this.finish(
        { code: null, signal: null },
        { reason: Reason.Cancelled, message: this.cancelMessage() },
      );
    this.update({ pid: this.runtime.pid }, 'runtime running');
    if (this.cancelled) this.runtime.signal('SIGTERM'); // cancelled while we were attaching
    this.pollReady();
    const exit = await this.runtime.exited;
    await this.finish(exit, this.classify(exit));
  }

  /**
   * Turns health NOT_SERVING without cancelling, so traffic drains before the runtime hears
   * anything (a preStop hold: the operator cancels once the pod is out of its Service's
   * endpoints). Idempotent; nothing once cancelled or exited.
   */
  drain(): void {
    if (this.draining || this.cancelled || this.state.exitTime !== undefined) return;
    this.draining = true;
    clearTimeout(this.readyTimer);
    this.update({ ready: false }, 'draining: NOT_SERVING until cancelled');
  }

  /** Idempotent: the first call starts the cancel; later ones only report what they found. */
  cancel(reason: string): CancelResult {
    const found = this.status;
    if (this.cancelled || found.phase === 'PHASE_TEARING_DOWN' || found.phase === 'PHASE_EXITED') {
      return { status: found, alreadyCancelled: true };
    }
    this.cancelReason = reason;
    // NOT_SERVING goes out before the runtime hears anything, so traffic drains first.
    this.update({ phase: 'PHASE_CANCELLING', ready: false, cancelTime: Date.now() }, 'cancelling', {
      reason,
    });
    clearTimeout(this.readyTimer);
    this.launchAbort.abort();
    if (this.runtime) this.runtime.signal('SIGTERM');
    this.killTimer = setTimeout(() => this.kill(), this.opts.cancelTimeoutMs);
    // What the caller sees is what it caused (PHASE_CANCELLING, not ready), not the state before.
    return { status: this.status, alreadyCancelled: false };
  }

  private kill(): void {
    if (!this.runtime || this.state.exitTime !== undefined) return;
    this.opts.log.warn(
      { pid: this.runtime.pid, cancelTimeoutSeconds: this.opts.cancelTimeoutMs / 1000 },
      'runtime still running after the cancel timeout: sending SIGKILL ' +
        '(raise --cancel-timeout if it needs longer to stop)',
    );
    this.killedByUs = this.runtime.signal('SIGKILL');
  }

  private pollReady(): void {
    const tick = async (): Promise<void> => {
      if (this.cancelled || this.draining || this.state.exitTime !== undefined) return;
      const ok = await this.opts.readyCheck.check(Math.min(this.opts.readyPeriodMs, 1000));
      if (this.cancelled || this.draining || this.state.exitTime !== undefined) return;
      if (ok !== this.state.ready) this.setReady(ok);
      this.readyTimer = setTimeout(() => void tick(), this.opts.readyPeriodMs);
    };
    void tick();
  }

  private setReady(ready: boolean): void {
    if (ready && this.state.readyTime === undefined) {
      this.update({ phase: 'PHASE_READY', ready, readyTime: Date.now() }, 'ready');
    } else {
      this.update(
        { ready },
        ready ? 'ready again' : 'not ready: the runtime stopped answering its ready check',
      );
    }
  }

  /** Why the runtime ended, in the words the Pea's conditions use. */
  private classify(exit: RuntimeExit): { reason: string; message: string } {
    const how = describeExit(exit, this.opts.exitCodeKnown);
    if (this.cancelled) {
      if (this.killedByUs) {
        return {
          reason: Reason.CancelTimeout,
          message: `runtime ignored SIGTERM for ${this.opts.cancelTimeoutMs / 1000}s and was killed; ${how}`,
        };
      }
      return { reason: Reason.Cancelled, message: `${this.cancelMessage()}; ${how}` };
    }
    if (exit.code === 0) return { reason: Reason.Completed, message: `runtime finished by itself; ${how}` };
    if (this.state.readyTime === undefined) {
      return {
        reason: Reason.FailedToStart,
        message: `runtime ${how} before it was ever ready: see its log`,
      };
    }
    return { reason: Reason.RunForeverError, message: `runtime ${how} after it was ready: see its log` };
  }

  private cancelMessage(): string {
    return `cancelled${this.cancelReason ? ` (${this.cancelReason})` : ''}`;
  }

  private async finish(exit: RuntimeExit, outcome: { reason: string; message: string }): Promise<void> {
    clearTimeout(this.killTimer);
    clearTimeout(this.readyTimer);
    this.opts.readyCheck.close();
    const exitFields = {
      exitTime: Date.now(),
      ...(exit.code === null ? {} : { exitCode: exit.code }),
      signal: exit.signal ?? '',
    };
    this.update(
      { phase: 'PHASE_TEARING_DOWN', ready: false, ...exitFields, ...outcome },
      'runtime exited; tearing down',
    );
    const budget = (this.state.cancelTime ?? Date.now()) + this.opts.teardownTimeoutMs - Date.now();
    const teardown = await this.opts.teardown(Math.max(budget, 1000));
    const failed =
      !teardown.ok && (outcome.reason === Reason.Cancelled || outcome.reason === Reason.Completed);
    const final = failed
      ? { reason: Reason.TeardownFailed, message: `${outcome.message}; teardown failed: ${teardown.message}` }
      : {};
    this.update({ phase: 'PHASE_EXITED', teardownTime: Date.now(), ...final }, 'exited', {
      teardown: teardown.message,
    });
    this.resolveDone(this.status);
  }

  private update(patch: Partial<SupervisorStatus>, event: string, extra: Record<string, unknown> = {}): void {
    this.state = { ...this.state, ...patch };
    const s = this.state;
    const since = (t?: number): number | undefined =>
      t === undefined || s.startedTime === undefined ? undefined : t - s.startedTime;
    this.opts.log.info(
      {
        phase: s.phase,
        ready: s.ready,
        pid: s.pid || undefined,
        reason: s.reason || undefined,
        exitCode: s.exitCode,
        signal: s.signal || undefined,
        readyMs: since(s.readyTime),
        cancelMs: since(s.cancelTime),
        exitMs: since(s.exitTime),
        teardownMs: since(s.teardownTime),
        ...extra,
      },
      event,
    );
    this.emit('change', this.status);
  }
}

function describeExit(exit: RuntimeExit, codeKnown: boolean): string {
  if (exit.signal) return `was killed by ${exit.signal}`;
  if (exit.code !== null) return `exited with code ${exit.code}`;
  return codeKnown ? 'exited' : "exited (its exit code is in the runtime container's status)";
}

/** The sidecar's own exit code: 0 for a clean end, the runtime's failure otherwise. */
export function sidecarExitCode(s: SupervisorStatus): number {
  if (s.reason === Reason.Cancelled || s.reason === Reason.Completed) return 0;
  if (s.reason === Reason.TeardownFailed) return 1; // the runtime itself ended cleanly
  if (s.exitCode !== undefined && s.exitCode !== 0) return s.exitCode;
  if (s.signal) return 128 + (constants.signals[s.signal as NodeJS.Signals] ?? 1);
  return 1;
}

// The worker loop, apart from what it runs (controller-runtime's pkg/internal/controller):
// workers take keys from the queue one at a time, reconcile them, and requeue each by the
// reconcile contract (reconcile.ts), counting every pass in the metrics.
import type { Logger } from '../shared/logger.js';
import { isConflict, TerminalError } from './errors.js';
import type { Metrics } from './metrics.js';
import type { WorkQueue } from './queue.js';
import type { Reconcile } from './reconcile.js';

/** Runs a reconcile over a queue's keys with a fixed number of workers. */
export class Workers {
  private readonly inFlight = new Set<Promise<void>>();
  private running = false;
  /** Set by the caller when metrics are served. */
  metrics?: Pick<Metrics, 'reconciled'>;

  constructor(
    private readonly queue: WorkQueue,
    private readonly reconcile: Reconcile,
    private readonly log: Logger,
  ) {}

  /** Starts `count` workers once `ready()` resolves (the caches are synced); keys queued meanwhile wait. */
  start(count: number, ready: () => Promise<void>): void {
    this.running = true;
    void ready().then(() => {
      for (let i = 0; i < count; i++) void this.worker();
    });
  }

  /** Whether start() was called and stop() was not. */
  get isRunning(): boolean {
    return this.running;
  }

  /** Stops taking work and resolves once the reconciles in flight have finished. */
  async stop(): Promise<void> {
    this.running = false;
    this.queue.shutDown();
    await Promise.allSettled([...this.inFlight]);
  }

  private async worker(): Promise<void> {
    while (this.running) {
      const key = await this.queue.get();
      if (key === undefined) return;
      const p = this.process(key);
      this.inFlight.add(p);
      await p;
      this.inFlight.delete(p);
    }
  }

  private async process(key: string): Promise<void> {
    const started = performance.now();
    let result = 'success';
    try {
      const requeueAfterMs = await this.reconcile(key);
      this.queue.forget(key);
      if (requeueAfterMs !== undefined) {
        this.queue.addAfter(key, requeueAfterMs);
        result = 'requeue_after';
      }
    } catch (err) {
      result = this.failed(key, err);
    } finally {
      this.queue.done(key);
      this.metrics?.reconciled(result, (performance.now() - started) / 1000);
    }
  }

  /** Requeues a failed key by the contract; the metrics' result label. */
  private failed(key: string, err: unknown): string {
    if (err instanceof TerminalError) {
      this.queue.forget(key);
      this.log.error({ pea: key, err }, 'reconcile failed for good; not retried until the Pea changes');
      return 'error';
    }
    const conflict = isConflict(err);
    // A conflict only means the cache was behind: expected, and retried at once.
    if (conflict) this.log.debug({ pea: key }, 'stale read; reconciling again');
    else this.log.warn({ pea: key, err }, 'reconcile failed; retrying with backoff');
    this.queue.addRateLimited(key);
    return conflict ? 'conflict' : 'error';
  }
}

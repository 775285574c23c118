// A keyed work queue in the controller-runtime style: adding a key that is already waiting
// is a no-op; a key being processed is never handed out twice at once (a re-add while it runs
// is kept and handed out after done()); failures back off exponentially per key.
/** The per-key backoff after failures: baseDelayMs, doubling, up to maxDelayMs. */
export interface QueueOptions {
  baseDelayMs: number;
  maxDelayMs: number;
}

/** A keyed work queue (client-go's workqueue): a key waits once, goes to one worker at a time, and backs off. */
export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly waiting = new Set<string>();
  private readonly processing = new Set<string>();
  /** Keys re-added while processing: handed out again once done. */
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly takers: Array<(key: string | undefined) => void> = [];
  private shuttingDown = false;
  retries = 0;

  constructor(private readonly opts: QueueOptions = { baseDelayMs: 100, maxDelayMs: 60_000 }) {}

  get depth(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.shuttingDown) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.waiting.has(key)) return;
    const taker = this.takers.shift();
    if (taker) {
      this.processing.add(key);
      taker(key);
      return;
    }
    this.waiting.add(key);
    this.queue.push(key);
  }

  /** Adds the key after `ms`; an earlier pending timer for the key wins if it is sooner. */
  addAfter(key: string, ms: number): void {
    if (ms <= 0) return this.add(key);
    const existing = this.timers.get(key) as (NodeJS.Timeout & { dueAt?: number }) | undefined;
    const dueAt = Date.now() + ms;
    if (existing?.dueAt !== undefined && existing.dueAt <= dueAt) return;
    if (existing) clearTimeout(existing);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms) as NodeJS.Timeout & { dueAt?: number };
    timer.dueAt = dueAt;
    timer.unref();
    this.timers.set(key, timer);
  }

  /** After a failed reconcile: 100 ms, 200 ms, 400 ms … up to the maximum. */
  addRateLimited(key: string): void {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    this.retries++;
    this.addAfter(key, Math.min(this.opts.baseDelayMs * 2 ** n, this.opts.maxDelayMs));
  }

  /** After a successful reconcile: the key's backoff starts over. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** The next key, or undefined once shut down. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.waiting.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.takers.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const taker of this.takers.splice(0)) taker(undefined);
  }
}

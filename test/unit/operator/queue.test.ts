import { describe, expect, it } from '@jest/globals';
import { WorkQueue } from '../../../src/operator/queue.js';

describe('WorkQueue', () => {
  it('coalesces duplicate adds of a waiting key', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.depth).toBe(2);
    expect([await q.get(), await q.get()]).toEqual(['a', 'b']);
  });

  it('never hands out a key twice at once, and keeps an add made while it runs', async () => {
    const q = new WorkQueue();
    q.add('a');
    const key = await q.get();
    q.add('a'); // an event arrives while 'a' is being reconciled
    expect(q.depth).toBe(0);
    q.done(key as string);
    expect(q.depth).toBe(1);
    expect(await q.get()).toBe('a');
  });

  it('backs off exponentially per key and starts over after forget()', async () => {
    const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 40 });
    const delays: number[] = [];
    const real = globalThis.setTimeout;
    // Records the delays asked for; the timers themselves are real.
    globalThis.setTimeout = ((fn: () => void, ms: number) => {
      delays.push(ms);
      return real(fn, ms);
    }) as typeof setTimeout;
    try {
      for (let i = 0; i < 4; i++) {
        q.addRateLimited('a');
        const k = await q.get();
        q.done(k as string);
      }
      q.forget('a');
      q.addRateLimited('a');
    } finally {
      globalThis.setTimeout = real;
    }
    expect(delays).toEqual([10, 20, 40, 40, 10]);
    expect(q.retries).toBe(5);
  });

  it('keeps the sooner of two delayed adds', async () => {
    const q = new WorkQueue();
    q.addAfter('a', 60_000);
    q.addAfter('a', 5);
    expect(await q.get()).toBe('a');
  });

  it('wakes waiting workers with undefined on shutdown', async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.shutDown();
    expect(await waiting).toBeUndefined();
    q.add('late');
    expect(q.depth).toBe(0);
  });
});

// The worker loop keeps the reconcile contract (src/operator/reconcile.ts) for every key: a
// number brings the key back after that long, a throw with a back-off, a TerminalError not.
import { afterEach, describe, expect, it } from '@jest/globals';
import { ApiException } from '@kubernetes/client-node';
import { TerminalError } from '../../../src/operator/errors.js';
import { WorkQueue } from '../../../src/operator/queue.js';
import type { Reconcile } from '../../../src/operator/reconcile.js';
import { Workers } from '../../../src/operator/workers.js';
import { createLogger } from '../../../src/shared/logger.js';

const log = createLogger('test', 'silent');
let running: Workers | undefined;
afterEach(() => running?.stop());

/** Runs `answers` in turn as the reconcile of key `a`; resolves the metrics' results and the times of each pass. */
async function run(answers: Array<() => Promise<number | undefined>>, passes: number, waitMs = 3000) {
  const queue = new WorkQueue({ baseDelayMs: 20, maxDelayMs: 20 });
  const at: number[] = [];
  const results: string[] = [];
  const reconcile: Reconcile = async () => {
    at.push(Date.now());
    return (answers[at.length - 1] ?? (async () => undefined))();
  };
  running = new Workers(queue, reconcile, log);
  running.metrics = { reconciled: (result) => void results.push(result) };
  running.start(1, async () => undefined);
  queue.add('ns/a');
  const deadline = Date.now() + waitMs;
  while (at.length < passes && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 50)); // and no pass more than asked for
  return { at, results, retries: queue.retries };
}

describe('Workers', () => {
  it('a returned number brings the key back after that many milliseconds', async () => {
    const { at, results } = await run([async () => 60, async () => undefined], 2);
    expect(at).toHaveLength(2);
    expect((at[1] as number) - (at[0] as number)).toBeGreaterThanOrEqual(55);
    expect(results).toEqual(['requeue_after', 'success']);
  });

  it('a throw brings the key back with a back-off; a 409 counts as a conflict', async () => {
    const conflict = new ApiException(409, 'Conflict', {}, {});
    const fail = (err: Error) => async (): Promise<undefined> => {
      throw err;
    };
    const { at, results, retries } = await run([fail(new Error('down')), fail(conflict)], 3);
    expect(at).toHaveLength(3);
    expect(results).toEqual(['error', 'conflict', 'success']);
    expect(retries).toBe(2);
  });

  it('a TerminalError is not retried', async () => {
    const { at, results, retries } = await run(
      [
        async () => {
          throw new TerminalError('refused');
        },
      ],
      2,
      150,
    );
    expect(at).toHaveLength(1);
    expect(results).toEqual(['error']);
    expect(retries).toBe(0);
  });
});

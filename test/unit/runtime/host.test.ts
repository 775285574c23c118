// The SDK host drives a BaseRuntime in-process here (health port 0), to pin the seed's
// ordering rules; the same host runs as a real process in the sidecar tests.
import { describe, expect, it } from '@jest/globals';
import { createLogger } from '../../../src/shared/logger.js';
import { BaseRuntime, type ReadyEvent } from '../../../src/runtime/sdk/base-runtime.js';
import { hostRuntime } from '../../../src/runtime/sdk/host.js';

type Step = 'init' | 'ready' | 'cancel' | 'teardown';

function runtimeClass(
  calls: Step[],
  behaviour: { initThrows?: boolean; runThrows?: 'before' | 'after'; teardownThrows?: boolean },
) {
  return class Recorder extends BaseRuntime {
    private stop!: () => void;
    override async init(): Promise<void> {
      calls.push('init');
      if (behaviour.initThrows) throw new Error('init boom');
    }
    async runForever(ready: ReadyEvent): Promise<void> {
      if (behaviour.runThrows === 'before') throw new Error('early boom');
      ready.set();
      calls.push('ready');
      if (behaviour.runThrows === 'after') throw new Error('late boom');
      await new Promise<void>((r) => {
        this.stop = r;
        setImmediate(() => process.emit('SIGTERM'));
      });
    }
    cancel(): void {
      calls.push('cancel');
      this.stop();
    }
    override async teardown(): Promise<void> {
      calls.push('teardown');
      if (behaviour.teardownThrows) throw new Error('teardown boom');
    }
  };
}

const log = createLogger('test', 'silent');
const opts = { healthPort: 0, terminationLog: '/dev/null', log };

describe('hostRuntime', () => {
  it.each([
    [
      'cancelled by SIGTERM',
      {},
      { exitCode: 0, reason: 'Cancelled' },
      ['init', 'ready', 'cancel', 'teardown'],
    ],
    [
      'init throws: teardown skipped',
      { initThrows: true },
      { exitCode: 1, reason: 'FailedToStart' },
      ['init'],
    ],
    [
      'runForever throws before ready',
      { runThrows: 'before' as const },
      { exitCode: 1, reason: 'FailedToStart' },
      ['init', 'teardown'],
    ],
    [
      'runForever throws after ready',
      { runThrows: 'after' as const },
      { exitCode: 1, reason: 'RunForeverError' },
      ['init', 'ready', 'teardown'],
    ],
    [
      'teardown throws',
      { teardownThrows: true },
      { exitCode: 1, reason: 'TeardownFailed' },
      ['init', 'ready', 'cancel', 'teardown'],
    ],
  ])('%s', async (_name, behaviour, result, steps) => {
    const calls: Step[] = [];
    expect(await hostRuntime(runtimeClass(calls, behaviour), opts)).toMatchObject(result);
    expect(calls).toEqual(steps);
  });
});

// A runtime that takes a while to become ready, like a model server loading weights:
// `node slow-start.js [--ready-after SECONDS]` (default 5).
import { parseArgs } from 'node:util';
import { BaseRuntime, type ReadyEvent } from '../src/runtime/sdk/base-runtime.js';
import { serveRuntime } from '../src/runtime/sdk/host.js';
import { recordEvent } from './events.js';

export default class SlowStart extends BaseRuntime {
  private readonly abort = new AbortController();

  async runForever(ready: ReadyEvent): Promise<void> {
    const { values } = parseArgs({
      args: this.context.args,
      options: { 'ready-after': { type: 'string', default: '5' } },
    });
    const loadMs = Number(values['ready-after']) * 1000;
    this.context.log.info({ loadMs }, 'loading');
    if (await this.sleep(loadMs)) {
      ready.set();
      recordEvent('ready');
      await this.sleep(Number.MAX_SAFE_INTEGER);
    }
  }

  cancel(): void {
    recordEvent('cancel');
    this.abort.abort();
  }

  override async teardown(): Promise<void> {
    recordEvent('teardown');
  }

  /** True when the time passed, false when cancelled first. */
  private sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.abort.signal.aborted) return resolve(false);
      const t = setTimeout(() => resolve(true), Math.min(ms, 2 ** 31 - 1));
      this.abort.signal.addEventListener('abort', () => {
        clearTimeout(t);
        resolve(false);
      });
    });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await serveRuntime(SlowStart);

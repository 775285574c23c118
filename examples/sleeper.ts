// The smallest well-behaved runtime: ready at once, blocks until cancelled.
import { BaseRuntime, type ReadyEvent } from '../src/runtime/sdk/base-runtime.js';
import { serveRuntime } from '../src/runtime/sdk/host.js';
import { recordEvent } from './events.js';

export default class Sleeper extends BaseRuntime {
  private stop!: () => void;
  private readonly stopped = new Promise<void>((r) => (this.stop = r));

  override async init(): Promise<void> {
    recordEvent('init');
  }

  async runForever(ready: ReadyEvent): Promise<void> {
    ready.set();
    recordEvent('ready');
    await this.stopped;
  }

  cancel(): void {
    recordEvent('cancel');
    this.stop();
  }

  override async teardown(): Promise<void> {
    recordEvent('teardown');
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await serveRuntime(Sleeper);

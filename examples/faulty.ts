// A runtime that misbehaves on request, for the tests and the e2e suite:
//   --init-fails             init() throws (FailedToStart, teardown skipped)
//   --crash-before-ready     runForever throws before ready.set() (FailedToStart)
//   --crash-after SECONDS    runForever throws that long after ready (RunForeverError)
//   --never-ready            never calls ready.set() (the operator's ReadyTimeout)
//   --ignore-cancel          cancel() does nothing, so SIGTERM is ignored (CancelTimeout)
//   --exit-after SECONDS     returns cleanly that long after ready (Completed)
//   --alloc-mib MIB          once ready, allocates and touches that much memory, 16 MiB at a
//                            time (over a memory limit: the kernel's OOM kill, OOMKilled)
//   --report-health PORT     on cancel, read the sidecar's health "" and record it, so a
//                            test can see that NOT_SERVING came before the runtime's cancel
import { parseArgs } from 'node:util';
import { HealthClient } from '../src/shared/health-client.js';
import { BaseRuntime, type ReadyEvent } from '../src/runtime/sdk/base-runtime.js';
import { serveRuntime } from '../src/runtime/sdk/host.js';
import { recordEvent } from './events.js';

const options = {
  'init-fails': { type: 'boolean' },
  'crash-before-ready': { type: 'boolean' },
  'crash-after': { type: 'string' },
  'never-ready': { type: 'boolean' },
  'ignore-cancel': { type: 'boolean' },
  'exit-after': { type: 'string' },
  'report-health': { type: 'string' },
  'alloc-mib': { type: 'string' },
} as const;

export default class Faulty extends BaseRuntime {
  private readonly flags = parseArgs({ args: this.context.args, options }).values;
  private stop!: () => void;
  private readonly stopped = new Promise<void>((r) => (this.stop = r));

  override async init(): Promise<void> {
    recordEvent('init');
    if (this.flags['init-fails']) throw new Error('init failed on purpose (--init-fails)');
  }

  async runForever(ready: ReadyEvent): Promise<void> {
    if (this.flags['crash-before-ready'])
      throw new Error('crashed before ready on purpose (--crash-before-ready)');
    if (!this.flags['never-ready']) {
      ready.set();
      recordEvent('ready');
    }
    if (this.flags['alloc-mib'] !== undefined) this.hold(Number(this.flags['alloc-mib']));
    const after = this.flags['crash-after'] ?? this.flags['exit-after'];
    const timer =
      after === undefined
        ? undefined
        : new Promise<'timer'>((r) => setTimeout(() => r('timer'), Number(after) * 1000));
    const why = await Promise.race([this.stopped.then(() => 'cancel' as const), ...(timer ? [timer] : [])]);
    if (why === 'timer' && this.flags['crash-after'] !== undefined)
      throw new Error('crashed after ready on purpose (--crash-after)');
  }

  private readonly held: Buffer[] = [];

  /** Filled buffers, so the pages are really used; a step at a time, so the kill is seen mid-way. */
  private hold(mib: number): void {
    const step = (): void => {
      if (this.held.length * 16 >= mib) return;
      this.held.push(Buffer.alloc(16 << 20, 1));
      recordEvent('allocated', { mib: this.held.length * 16 });
      setTimeout(step, 50);
    };
    step();
  }

  async cancel(): Promise<void> {
    const port = this.flags['report-health'];
    if (port) {
      const client = new HealthClient(`127.0.0.1:${port}`);
      recordEvent('cancel-saw-health', {
        status: await client.check('', 1000).catch((e: Error) => e.message),
      });
      client.close();
    }
    recordEvent('cancel', { ignored: Boolean(this.flags['ignore-cancel']) });
    if (!this.flags['ignore-cancel']) this.stop();
  }

  override async teardown(): Promise<void> {
    recordEvent('teardown');
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await serveRuntime(Faulty);

// `pea-runtime run MODULE`: the SDK host as a real process, read by a real health client.
import { afterEach, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { HealthClient } from '../../src/shared/health-client.js';
import { CLI, example, freePort, killAll, readEvents, start, tempDir, until } from '../helpers/processes.js';

afterEach(killAll);

describe('pea-runtime run', () => {
  it('serves SERVING once ready, and SIGTERM runs cancel then teardown once', async () => {
    const port = await freePort();
    const dir = tempDir();
    const events = join(dir, 'events.jsonl');
    const p = start(
      process.execPath,
      [CLI, 'run', example('sleeper'), '--health-port', String(port), '--termination-log', join(dir, 'tl')],
      { PEA_EVENTS_FILE: events },
    );
    const health = new HealthClient(`127.0.0.1:${port}`, undefined, {
      'grpc.initial_reconnect_backoff_ms': 50,
      'grpc.max_reconnect_backoff_ms': 200,
    });
    await until('SERVING', () => health.isServing('', 500));
    health.close();
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(readEvents(events).map((e) => e.event)).toEqual(['init', 'ready', 'cancel', 'teardown']);
  });

  it('refuses a module without a default export, saying what to do', async () => {
    const p = start(process.execPath, [CLI, 'run', example('events')]);
    expect(await p.exited).toBe(2);
    expect(p.output()).toContain('has no default export; export your BaseRuntime subclass as default');
  });
});

// Ready and end-of-life as the sidecar reports them, with real runtimes and real checks.
import { afterEach, describe, expect, it } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RuntimeStatus } from '../../src/shared/lifecycle-proto.js';
import { example, killAll, readEvents, until } from '../helpers/processes.js';
import { startSidecar, type SidecarUnderTest } from '../helpers/sidecar.js';

let sc: SidecarUnderTest | undefined;
afterEach(async () => {
  await sc?.close();
  killAll();
});

const faulty = (...flags: string[]): string[] => [process.execPath, example('faulty'), ...flags];

/** Collects every status the Watch stream sends until the stream ends. */
function watchAll(s: SidecarUnderTest): Promise<RuntimeStatus[]> {
  const seen: RuntimeStatus[] = [];
  const stream = s.lifecycle.watch({});
  stream.on('data', (m: RuntimeStatus) => seen.push(m));
  return new Promise((resolve) => {
    stream.on('end', () => resolve(seen));
    stream.on('error', () => resolve(seen));
  });
}

describe('ready', () => {
  it('is SERVING only after the runtime passes its check', async () => {
    sc = await startSidecar({
      flags: ['--ready', 'grpc://127.0.0.1:{health}', '--ready-period', '0.05'],
      runtime: [process.execPath, example('slow-start'), '--ready-after', '1.5'],
    });
    const s = sc;
    const first = await until('the sidecar to answer', () => s.status());
    expect(first.phase).toBe('PHASE_STARTING');
    expect(await s.health.check('', 1000)).toBe('NOT_SERVING');
    expect(await s.health.check('peapods.v1.Lifecycle', 1000)).toBe('SERVING');
    await until('SERVING', () => s.health.isServing('', 500));
    // The runtime recorded its ready before the sidecar said SERVING.
    expect(readEvents(s.eventsFile).map((e) => e.event)).toContain('ready');
    const ready = await s.status();
    expect(ready).toMatchObject({ phase: 'PHASE_READY', ready: true });
    expect(Number(ready.readyTime?.seconds)).toBeGreaterThan(0);
  });

  it('follows an http check, and flips back to NOT_SERVING when the runtime stops answering', async () => {
    const script =
      `const fs=require('fs');` +
      `require('http').createServer((q,r)=>{r.statusCode=fs.existsSync(process.argv[1])?503:200;r.end()})` +
      `.listen(+process.env.PEA_HEALTH_PORT,'127.0.0.1')`;
    sc = await startSidecar({
      flags: ['--ready', 'http://127.0.0.1:{health}/ready', '--ready-period', '0.05'],
      runtime: [process.execPath, '-e', script, '{dir}/sick'],
    });
    const s = sc;
    await until('SERVING', () => s.health.isServing('', 500));
    writeFileSync(join(s.dir, 'sick'), '');
    await until('NOT_SERVING again', async () => (await s.health.check('', 500)) === 'NOT_SERVING');
    expect(await s.status()).toMatchObject({ phase: 'PHASE_READY', ready: false });
    expect((await s.http('/readyz')).code).toBe(503);
  });

  it('follows a tcp check', async () => {
    const script = `setTimeout(()=>require('net').createServer().listen(+process.env.PEA_HEALTH_PORT,'127.0.0.1'),300)`;
    sc = await startSidecar({
      flags: ['--ready', 'tcp://127.0.0.1:{health}', '--ready-period', '0.05'],
      runtime: [process.execPath, '-e', script],
    });
    const s = sc;
    expect(await s.health.check('', 1000).catch(() => 'unreachable')).not.toBe('SERVING');
    await until('SERVING', () => s.health.isServing('', 500));
    expect((await s.http('/readyz')).code).toBe(200);
  });

  it('with --ready none is ready once the runtime runs', async () => {
    sc = await startSidecar({ flags: ['--ready', 'none'], runtime: ['sleep', '30'] });
    const s = sc;
    await until('SERVING', () => s.health.isServing('', 500));
    expect((await s.status()).pid).toBeGreaterThan(0);
  });
});

describe('how the runtime ended', () => {
  it('crash before ready: FailedToStart, teardown still runs, non-zero exit', async () => {
    sc = await startSidecar({
      flags: [
        '--ready',
        'grpc://127.0.0.1:{health}',
        '--teardown',
        'echo sidecar-teardown >> {dir}/events.jsonl',
      ],
      runtime: faulty('--crash-before-ready'),
    });
    const s = sc;
    expect(await s.exited).toBe(1);
    expect(readFileSync(s.terminationLog, 'utf8')).toBe(
      'FailedToStart: runtime exited with code 1 before it was ever ready: see its log',
    );
    expect(readEvents(s.eventsFile).map((e) => e.event)).toEqual(['init', 'teardown', 'sidecar-teardown']);
  });

  it('crash after ready: RunForeverError, reported differently', async () => {
    sc = await startSidecar({
      flags: ['--ready', 'grpc://127.0.0.1:{health}', '--ready-period', '0.05'],
      runtime: faulty('--crash-after', '1'),
    });
    const s = sc;
    await until('the sidecar to answer', () => s.status());
    const statuses = watchAll(s);
    expect(await s.exited).toBe(1);
    const phases = (await statuses).map((m) => m.phase);
    expect(phases).toContain('PHASE_READY');
    expect(phases.at(-1)).toBe('PHASE_EXITED');
    expect((await statuses).at(-1)).toMatchObject({ reason: 'RunForeverError', exitCode: 1, ready: false });
    expect(readFileSync(s.terminationLog, 'utf8')).toMatch(
      /^RunForeverError: runtime exited with code 1 after it was ready/,
    );
  });

  it('a runtime that finishes by itself: Completed, exit 0', async () => {
    sc = await startSidecar({
      flags: ['--ready', 'grpc://127.0.0.1:{health}'],
      runtime: faulty('--exit-after', '0.5'),
    });
    const s = sc;
    expect(await s.exited).toBe(0);
    expect(readFileSync(s.terminationLog, 'utf8')).toMatch(
      /^Completed: runtime finished by itself; exited with code 0/,
    );
  });

  it('init failure: FailedToStart and teardown is skipped (the SDK host)', async () => {
    sc = await startSidecar({
      flags: ['--ready', 'grpc://127.0.0.1:{health}'],
      runtime: faulty('--init-fails'),
    });
    const s = sc;
    expect(await s.exited).toBe(1);
    expect(readEvents(s.eventsFile).map((e) => e.event)).toEqual(['init']);
  });

  it('a runtime command that does not exist fails fast with a clear message', async () => {
    sc = await startSidecar({ runtime: ['/no/such/runtime', '--flag'] });
    const s = sc;
    expect(await s.exited).toBe(127);
    expect(readFileSync(s.terminationLog, 'utf8')).toBe(
      'FailedToStart: runtime command "/no/such/runtime" was not found: check the command and the image\'s PATH',
    );
  });

  it('a teardown command that fails turns a clean cancel into TeardownFailed', async () => {
    sc = await startSidecar({ flags: ['--teardown', '["false"]'], runtime: ['sleep', '30'] });
    const s = sc;
    await until('SERVING', () => s.health.isServing('', 500));
    await s.cancel();
    expect(await s.exited).toBe(1);
    expect(readFileSync(s.terminationLog, 'utf8')).toMatch(
      /^TeardownFailed: cancelled \(test\); was killed by SIGTERM; teardown failed: teardown command exited with 1/,
    );
  });
});

// Cancel from every direction gives the seed's order: health NOT_SERVING → SIGTERM to the
// runtime → runtime exit (its own teardown inside) → the sidecar's teardown, once.
import { afterEach, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { example, killAll, readEvents, until } from '../helpers/processes.js';
import { startSidecar, type SidecarUnderTest } from '../helpers/sidecar.js';

let sc: SidecarUnderTest | undefined;
afterEach(async () => {
  await sc?.close();
  killAll();
});

async function readySidecar(runtimeFlags: string[] = [], flags: string[] = []): Promise<SidecarUnderTest> {
  sc = await startSidecar({
    flags: [
      '--ready',
      'grpc://127.0.0.1:{health}',
      '--cancel-timeout',
      '2',
      '--teardown',
      'echo sidecar-teardown >> {dir}/events.jsonl',
      ...flags,
    ],
    // The runtime asks the sidecar's health when it hears the cancel, so the order is
    // observed from inside the runtime rather than inferred from timestamps.
    runtime: [process.execPath, example('faulty'), '--report-health', '{grpc}', ...runtimeFlags],
  });
  return sc;
}

function eventNames(s: SidecarUnderTest): string[] {
  return readEvents(s.eventsFile).map((e) => e.event);
}

describe('cancel', () => {
  it.each([
    ['the Cancel RPC', (s: SidecarUnderTest) => s.cancel('Pea deleted').then(() => undefined)],
    ['SIGTERM to the sidecar', async (s: SidecarUnderTest) => void s.child.kill('SIGTERM')],
    ['the preStop hook', (s: SidecarUnderTest) => s.http('/prestop').then(() => undefined)],
  ])('from %s: NOT_SERVING, then SIGTERM, exit, teardown once; exit 0', async (_name, trigger) => {
    const s = await readySidecar();
    await until('ready', () => s.health.isServing('', 500));
    await trigger(s);
    expect(await s.exited).toBe(0);
    const events = readEvents(s.eventsFile);
    expect(events.map((e) => e.event)).toEqual([
      'init',
      'ready',
      'cancel-saw-health',
      'cancel',
      'teardown',
      'sidecar-teardown',
    ]);
    expect(events[2]?.status).toBe('NOT_SERVING');
    expect(readFileSync(s.terminationLog, 'utf8')).toMatch(/^Cancelled: cancelled/);
  });

  it('is idempotent: the second Cancel reports the first; each answers the status after the cancel began', async () => {
    const s = await readySidecar();
    await until('ready', () => s.health.isServing('', 500));
    const first = await s.cancel('one');
    const second = await s.cancel('two');
    expect(first.alreadyCancelled).toBe(false);
    // What the Cancel caused, not the state it found: a runtime being cancelled is not ready.
    expect(first.status).toMatchObject({ phase: 'PHASE_CANCELLING', ready: false });
    expect(first.status.cancelTime).toBeTruthy();
    expect(second.alreadyCancelled).toBe(true);
    expect(['PHASE_CANCELLING', 'PHASE_TEARING_DOWN', 'PHASE_EXITED']).toContain(second.status.phase);
    expect(await s.exited).toBe(0);
  });

  it('survives every trigger at once, more than once: teardown still runs once', async () => {
    const s = await readySidecar();
    await until('ready', () => s.health.isServing('', 500));
    const hooks = [s.http('/prestop'), s.http('/prestop', 'POST'), s.cancel('a'), s.cancel('b')];
    s.child.kill('SIGTERM');
    s.child.kill('SIGTERM');
    const [h1, h2] = await Promise.all(hooks);
    expect(await s.exited).toBe(0);
    expect(h1).toMatchObject({ code: 200, body: { done: true } });
    expect(h2).toMatchObject({ code: 200, body: { done: true } });
    const names = eventNames(s);
    expect(names.filter((n) => n === 'teardown')).toHaveLength(1);
    expect(names.filter((n) => n === 'sidecar-teardown')).toHaveLength(1);
  });

  it('kills a runtime that ignores SIGTERM after --cancel-timeout: CancelTimeout', async () => {
    const s = await readySidecar(['--ignore-cancel'], ['--cancel-timeout', '0.5']);
    await until('ready', () => s.health.isServing('', 500));
    await s.cancel();
    expect(await s.exited).toBe(137);
    const names = eventNames(s);
    expect(names).toContain('cancel');
    expect(names).not.toContain('teardown'); // SIGKILL: the runtime's own teardown never ran
    expect(names.filter((n) => n === 'sidecar-teardown')).toHaveLength(1);
    expect(readFileSync(s.terminationLog, 'utf8')).toMatch(
      /^CancelTimeout: runtime ignored SIGTERM for 0.5s and was killed; was killed by SIGKILL/,
    );
  });

  it('answers preStop within --teardown-timeout even when the runtime has not stopped yet', async () => {
    const s = await readySidecar(
      ['--ignore-cancel'],
      ['--cancel-timeout', '30', '--teardown-timeout', '0.5'],
    );
    await until('ready', () => s.health.isServing('', 500));
    const res = await s.http('/prestop');
    expect(res.code).toBe(504);
    expect(res.body).toMatchObject({ done: false, status: { phase: 'PHASE_CANCELLING' } });
    expect((await s.status()).phase).toBe('PHASE_CANCELLING');
  });
});

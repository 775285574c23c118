// --prestop-hold-seconds (a PeaSet member's pod): the preStop hook first turns the health
// NOT_SERVING while the runtime keeps running, and holds until the operator's Cancel (after
// the pod left its Service's endpoints and drainSeconds passed), or until the hold runs out.
// Real sidecar process, real runtime, real gRPC.
import { afterEach, describe, expect, it } from '@jest/globals';
import { example, killAll, readEvents, until } from '../helpers/processes.js';
import { startSidecar, type SidecarUnderTest } from '../helpers/sidecar.js';

let sc: SidecarUnderTest | undefined;
afterEach(async () => {
  await sc?.close();
  killAll();
});

async function holdingSidecar(holdSeconds: number): Promise<SidecarUnderTest> {
  sc = await startSidecar({
    flags: ['--ready', 'grpc://127.0.0.1:{health}', '--prestop-hold-seconds', String(holdSeconds)],
    runtime: [process.execPath, example('faulty'), '--report-health', '{grpc}'],
  });
  await until('ready', () => sc!.health.isServing('', 500));
  return sc;
}

describe('the preStop hold', () => {
  it('turns NOT_SERVING at once, keeps the runtime running, and cancels when the Cancel RPC comes', async () => {
    const s = await holdingSidecar(60);
    const hook = s.http('/prestop');
    await until('NOT_SERVING', async () => (await s.health.check('', 500)) === 'NOT_SERVING');
    const held = await s.status();
    expect(held).toMatchObject({ phase: 'PHASE_READY', ready: false });
    expect(readEvents(s.eventsFile).map((e) => e.event)).not.toContain('cancel');
    await s.cancel('pod deleted, drained');
    const res = await hook;
    expect(res.body).toMatchObject({ done: true });
    expect(await s.exited).toBe(0);
    expect(readEvents(s.eventsFile).map((e) => e.event)).toEqual([
      'init',
      'ready',
      'cancel-saw-health',
      'cancel',
      'teardown',
    ]);
  });

  it('cancels by itself when the hold runs out (the operator never came)', async () => {
    const s = await holdingSidecar(1);
    const res = await s.http('/prestop');
    expect(res.body).toMatchObject({ done: true });
    expect(res.body.waitedMs as number).toBeGreaterThanOrEqual(1000);
    expect(await s.exited).toBe(0);
  });
});

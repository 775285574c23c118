// Issue 5, "Bad input, at volume": well over 1,000 malformed and hostile inputs to one
// running sidecar (test/helpers/hostile-inputs.ts makes them from a seed). Every call gets a
// gRPC status that is right for it, none hangs (each has a deadline, and a deadline is
// never a right answer), health stays SERVING throughout, the runtime is untouched, and
// the sidecar is still running at the end. Then a flood of authenticated Cancels cancels
// exactly once. Set PEAPODS_HOSTILE_SEED to repeat a run.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { HealthClient } from '../../src/shared/health-client.js';
import {
  lifecycleClient,
  type CancelResponse,
  type RuntimeStatus,
} from '../../src/shared/lifecycle-proto.js';
import { bearerInterceptor } from '../../src/shared/bearer.js';
import { Connections, hostileInputs, sendAll, type Outcome } from '../helpers/hostile-inputs.js';
import { killAll, readEvents, until } from '../helpers/processes.js';
import { startSidecar, type SidecarUnderTest } from '../helpers/sidecar.js';

const SEED = Number(process.env.PEAPODS_HOSTILE_SEED ?? 20260505);
const TOKEN = randomBytes(24).toString('base64url');

let sc: SidecarUnderTest;
let before: RuntimeStatus;
beforeAll(async () => {
  sc = await startSidecar({
    runtime: ['sleep', '600'],
    token: TOKEN,
    flags: ['--teardown', 'echo sidecar-teardown >> {dir}/events.jsonl'],
  });
  await until('SERVING', () => sc.health.isServing('', 500));
  before = await sc.status();
}, 30_000);
afterAll(async () => {
  await sc.close();
  killAll();
});

describe('hostile input at volume', () => {
  let outcomes: Outcome[] = [];
  const healthDuring: string[] = [];

  it('every input gets a status that is right for it, none hangs, and health stays SERVING throughout', async () => {
    const inputs = hostileInputs({ port: sc.grpcPort, token: TOKEN }, SEED);
    const connections = new Connections({ port: sc.grpcPort, token: TOKEN });
    // The kubelet's view while it happens: a probe on a connection of its own.
    const probe = new HealthClient(`127.0.0.1:${sc.grpcPort}`);
    let flooding = true;
    const probing = (async () => {
      while (flooding) {
        healthDuring.push(
          await probe.check('', 10_000).catch((err: grpc.ServiceError) => `error ${err.code} ${err.details}`),
        );
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      outcomes = await sendAll(inputs, connections, 48);
    } finally {
      flooding = false;
      await probing;
      connections.close();
      probe.close();
    }

    const calls = outcomes.reduce((n, o) => n + o.codes.length, 0);
    const byCode = new Map<string, number>();
    for (const c of outcomes.flatMap((o) => o.codes))
      byCode.set(grpc.status[c], (byCode.get(grpc.status[c]) ?? 0) + 1);
    process.stdout.write(
      `hostile inputs: ${calls} calls of ${new Set(outcomes.map((o) => o.input.kind)).size} kinds (seed ${SEED}), ` +
        `answered ${[...byCode].map(([k, n]) => `${k} ${n}`).join(', ')}; ` +
        `health probed ${healthDuring.length} times meanwhile\n`,
    );
    expect(calls).toBeGreaterThanOrEqual(1000);
    const wrong = outcomes.flatMap((o) =>
      o.codes
        .filter((c) => !o.input.allowed.includes(c))
        .map(
          (c) =>
            `${o.input.kind}: ${grpc.status[c]} (want ${o.input.allowed.map((a) => grpc.status[a]).join('|')}) ` +
            `for ${o.input.detail}`,
        ),
    );
    expect(wrong.slice(0, 20)).toEqual([]);
    expect(healthDuring.filter((s) => s !== 'SERVING')).toEqual([]);
  }, 240_000);

  it('afterwards the sidecar is running, health answers SERVING, and the runtime was never touched', async () => {
    expect(sc.child.exitCode).toBeNull();
    const fresh = new HealthClient(`127.0.0.1:${sc.grpcPort}`);
    try {
      expect(await fresh.check('', 5000)).toBe('SERVING');
      expect(await fresh.check('peapods.v1.Lifecycle', 5000)).toBe('SERVING');
    } finally {
      fresh.close();
    }
    expect(await sc.status()).toMatchObject({
      phase: 'PHASE_READY',
      ready: true,
      pid: before.pid,
      cancelTime: null,
    });
  });

  it('logged the refusals as a bounded number of lines, without the token', () => {
    const refused = outcomes.flatMap((o) => o.codes).filter((c) => c === grpc.status.UNAUTHENTICATED).length;
    const lines = sc.logLines().filter((l) => String(l.msg).startsWith('control call refused'));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.length).toBeLessThan(refused);
    expect(sc.output()).not.toContain(TOKEN);
  });

  it('a flood of Cancels with the right token cancels once; the sidecar then exits 0 after one teardown', async () => {
    const clients = Array.from({ length: 4 }, () =>
      lifecycleClient(`127.0.0.1:${sc.grpcPort}`, {
        'grpc.use_local_subchannel_pool': 1,
        interceptors: [bearerInterceptor(() => TOKEN)],
      }),
    );
    const answers = await Promise.all(
      Array.from(
        { length: 200 },
        (_, i) =>
          new Promise<CancelResponse | grpc.ServiceError>((resolve) =>
            clients[i % 4]?.cancel({ reason: `flood ${i}` }, { deadline: Date.now() + 10_000 }, (err, res) =>
              resolve(err ?? (res as CancelResponse)),
            ),
          ),
      ),
    );
    for (const c of clients) c.close();
    // Once the sidecar has exited, late Cancels find it gone: that is the only other answer.
    const ok = answers.filter((a): a is CancelResponse => 'alreadyCancelled' in a);
    const failed = answers.filter((a): a is grpc.ServiceError => !('alreadyCancelled' in a));
    expect(failed.filter((e) => e.code !== grpc.status.UNAVAILABLE)).toEqual([]);
    expect(ok.filter((a) => !a.alreadyCancelled)).toHaveLength(1);
    expect(await sc.exited).toBe(0);
    expect(sc.logLines().filter((l) => l.msg === 'Cancel RPC').length).toBe(ok.length);
    expect(readEvents(sc.eventsFile).filter((e) => e.event === 'sidecar-teardown')).toHaveLength(1);
  });
});

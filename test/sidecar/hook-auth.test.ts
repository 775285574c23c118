// PEA_HOOK_TOKEN: /prestop cancels only for a caller that presents the pod's hook token, from
// loopback as from anywhere else, so no pod can cancel a Pea through the HTTP port whatever
// the CNI. Real sidecar processes; the right caller is what the kubelet and the exec-form
// hook send.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { CLI, killAll, start, until } from '../helpers/processes.js';
import { startSidecar, type SidecarUnderTest } from '../helpers/sidecar.js';

const token = (): string => randomBytes(24).toString('base64url');
const HOOK = token();
const CONTROL = token();
const WRONG = token();
const EXTERNAL = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
const NO_EXTERNAL =
  'this test needs a non-loopback IPv4 address on some network interface, and the machine has none';

/** A sidecar as the operator starts it: control token file, hook token in the environment, all interfaces. */
function hooked(): Promise<SidecarUnderTest> {
  const env = { PEA_HOOK_TOKEN: HOOK };
  return startSidecar({ runtime: ['sleep', '300'], token: CONTROL, env, flags: ['--host', '0.0.0.0'] });
}

const refusals: Array<[string, Record<string, string>]> = [
  ['no authorization', {}],
  ['a wrong token', { authorization: `Bearer ${WRONG}` }],
  ['the control token (it opens gRPC, not the hook)', { authorization: `Bearer ${CONTROL}` }],
  ['the hook token without "Bearer "', { authorization: HOOK }],
  ['the hook token with a byte more', { authorization: `Bearer ${HOOK}x` }],
  ['Basic credentials', { authorization: `Basic ${Buffer.from(`kubelet:${HOOK}`).toString('base64')}` }],
];

describe('/prestop with a hook token', () => {
  let sc: SidecarUnderTest;
  beforeAll(async () => {
    sc = await hooked();
    await until('SERVING', () => sc.health.isServing('', 500));
  });
  afterAll(async () => {
    await sc.close();
    killAll();
  });

  it.each(refusals)(
    "refuses %s with 401, from loopback and from the machine's address alike",
    async (_w, headers) => {
      if (!EXTERNAL) throw new Error(NO_EXTERNAL);
      for (const host of ['127.0.0.1', EXTERNAL]) {
        for (const method of ['GET', 'POST']) {
          const res = await fetch(`http://${host}:${sc.httpPort}/prestop`, { method, headers });
          expect(res.status).toBe(401);
          expect(res.headers.get('www-authenticate')).toBe('Bearer');
          expect(await res.json()).toEqual({
            error: expect.stringContaining('"authorization: Bearer <hook token>"'),
          });
        }
      }
    },
  );

  it('left the runtime running and ready: nothing was cancelled', async () => {
    expect(await sc.health.check('', 1000)).toBe('SERVING');
    expect(await sc.status()).toMatchObject({ phase: 'PHASE_READY', ready: true, cancelTime: null });
    expect(sc.child.exitCode).toBeNull();
  });

  it('logged each refusal with the caller and why, and never a token', async () => {
    const refused = sc.logLines().filter((l) => l.msg === 'hook call refused');
    expect(refused.length).toBeGreaterThan(0);
    const what = expect.stringMatching(/^(GET|POST) \/prestop$/);
    expect(refused[0]).toMatchObject({ what, peer: expect.any(String), problem: expect.any(String) });
    const listening = sc.logLines().find((l) => l.msg === 'sidecar listening');
    expect(listening).toMatchObject({ authenticated: true, hookAuthenticated: true });
    for (const t of [HOOK, CONTROL, WRONG]) expect(sc.output()).not.toContain(t);
  });

  it('takes the hook token from the pod IP, as the kubelet sends it: cancel, teardown, exit 0', async () => {
    if (!EXTERNAL) throw new Error(NO_EXTERNAL);
    const url = `http://${EXTERNAL}:${sc.httpPort}/prestop`;
    const res = await fetch(url, { headers: { Authorization: `Bearer ${HOOK}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ done: true, status: { reason: 'Cancelled' } });
    expect(await sc.exited).toBe(0);
    expect(sc.output()).not.toContain(HOOK);
  });
});

describe('the exec-form hook, `pea-runtime prestop`', () => {
  it("sends PEA_HOOK_TOKEN from its environment (the sidecar container's), and the sidecar tears down", async () => {
    const sc = await hooked();
    try {
      await until('SERVING', () => sc.health.isServing('', 500));
      const prestop = [CLI, 'prestop', '--http-port', String(sc.httpPort)];
      const without = start(process.execPath, prestop, { PEA_HOOK_TOKEN: '' });
      expect(await without.exited).toBe(1);
      expect(without.output()).toContain('no authorization sent');
      expect(await sc.health.check('', 1000)).toBe('SERVING');
      const hook = start(process.execPath, prestop, { PEA_HOOK_TOKEN: HOOK });
      expect(await hook.exited).toBe(0);
      expect(hook.output()).toContain('"done":true');
      expect(await sc.exited).toBe(0);
    } finally {
      await sc.close();
    }
  });
});

describe('PEA_HOOK_TOKEN itself', () => {
  const bad = [
    ['a space inside', 'abc def'],
    ['a newline', `${HOOK}\n`],
    ['empty', ''],
  ];
  it.each(bad)('refuses %s at start, exit 2, naming the variable', async (_what, value) => {
    const args = [CLI, 'sidecar', '--http-port', '0', '--grpc-port', '0', '--', 'sleep', '5'];
    const sidecar = start(process.execPath, args, { PEA_HOOK_TOKEN: value });
    expect(await sidecar.exited).toBe(2);
    expect(sidecar.output()).toContain('PEA_HOOK_TOKEN must be non-empty printable ASCII');
  });

  it('unset: /prestop is open, as for a local run, and the sidecar says so at start', async () => {
    const open = await startSidecar({ runtime: ['sleep', '300'], token: CONTROL });
    await until('SERVING', () => open.health.isServing('', 500));
    const warns = open.logLines().filter((l) => l.level === 40);
    const warning = warns.find((l) => String(l.msg).includes('/prestop is unauthenticated'));
    expect(warning).toBeDefined();
    expect(await open.http('/prestop')).toMatchObject({ code: 200, body: { done: true } });
    expect(await open.exited).toBe(0);
  });
});

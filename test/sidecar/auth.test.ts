// --token-file: control calls need the Pea's token, health stays open, a rotated Secret
// takes effect without a restart, and the token never reaches a log line.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import * as grpc from '@grpc/grpc-js';
import { lifecycleServiceDefinition } from '../../src/shared/lifecycle-proto.js';
import { bearerMetadata } from '../../src/shared/bearer.js';
import { descendants, killAll, until } from '../helpers/processes.js';
import { startSidecar, type SidecarUnderTest } from '../helpers/sidecar.js';

const token = (): string => randomBytes(24).toString('base64url');
const FIRST = token();
const SECOND = token();
const WRONG = token();
const LIFECYCLE = lifecycleServiceDefinition();
const EXTERNAL = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

let sc: SidecarUnderTest;
let raw: grpc.Client;
beforeAll(async () => {
  // 0.0.0.0, as in a pod, so /status can be tried from a non-loopback address below.
  sc = await startSidecar({ runtime: ['sleep', '300'], token: FIRST, flags: ['--host', '0.0.0.0'] });
  raw = new grpc.Client(`127.0.0.1:${sc.grpcPort}`, grpc.credentials.createInsecure());
  await until('SERVING', () => sc.health.isServing('', 500));
});
afterAll(async () => {
  raw.close();
  await sc.close();
  killAll();
});

function md(...values: string[]): grpc.Metadata {
  const m = new grpc.Metadata();
  for (const v of values) m.add('authorization', v);
  return m;
}

/** A unary Lifecycle call with exactly this metadata; resolves the status code. */
function unary(
  method: 'Cancel' | 'Status',
  metadata: grpc.Metadata,
): Promise<{ code: grpc.status; details: string }> {
  const d = LIFECYCLE[method] as grpc.MethodDefinition<object, object>;
  return new Promise((resolve) =>
    raw.makeUnaryRequest(
      d.path,
      d.requestSerialize,
      d.responseDeserialize,
      { reason: 'auth test' },
      metadata,
      { deadline: Date.now() + 5000 },
      (err) =>
        resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: '' }),
    ),
  );
}

/** Opens Watch: OK once the first status arrives (then cancelled), else the refusal. */
function watch(metadata: grpc.Metadata): Promise<{ code: grpc.status; details: string }> {
  const d = LIFECYCLE.Watch as grpc.MethodDefinition<object, object>;
  return new Promise((resolve) => {
    const call = raw.makeServerStreamRequest(
      d.path,
      d.requestSerialize,
      d.responseDeserialize,
      {},
      metadata,
      { deadline: Date.now() + 5000 },
    );
    call.on('data', () => {
      resolve({ code: grpc.status.OK, details: '' });
      call.cancel();
    });
    call.on('error', (err: grpc.ServiceError) => resolve({ code: err.code, details: err.details }));
  });
}

const refusals: Array<[string, grpc.Metadata]> = [
  ['no authorization', new grpc.Metadata()],
  ['a wrong token', md(`Bearer ${WRONG}`)],
  ['the token without "Bearer "', md(FIRST)],
  ['the token with a byte more', md(`Bearer ${FIRST}x`)],
  ['the token with a byte less', md(`Bearer ${FIRST.slice(0, -1)}`)],
  ['Basic credentials', md(`Basic ${Buffer.from(`user:${FIRST}`).toString('base64')}`)],
  // Two entries never leave a grpc-js client (Node's HTTP/2 refuses them); a proxy joins them so.
  ['the right and a wrong token, joined', md(`Bearer ${FIRST}, Bearer ${WRONG}`)],
  ['garbage', md('!!~~ ""{}[] Bearer')],
];

describe('with --token-file', () => {
  it('takes Cancel-free control calls with the right token', async () => {
    expect(await unary('Status', bearerMetadata(FIRST))).toEqual({ code: grpc.status.OK, details: '' });
    expect(await watch(bearerMetadata(FIRST))).toEqual({ code: grpc.status.OK, details: '' });
    expect((await sc.status()).phase).toBe('PHASE_READY'); // the helper's client, through bearerInterceptor
  });

  it.each(refusals)(
    'refuses Cancel, Status and Watch with %s: UNAUTHENTICATED, saying what to send',
    async (_what, metadata) => {
      for (const result of [
        await unary('Cancel', metadata),
        await unary('Status', metadata),
        await watch(metadata),
      ]) {
        expect(result.code).toBe(grpc.status.UNAUTHENTICATED);
        expect(result.details).toContain('authorization: Bearer <token>');
      }
    },
  );

  it('the runtime kept running and health stayed open and SERVING throughout', async () => {
    expect(await sc.health.check('', 1000)).toBe('SERVING');
    expect(await sc.health.check('peapods.v1.Lifecycle', 1000)).toBe('SERVING');
    expect(await sc.status()).toMatchObject({ phase: 'PHASE_READY', ready: true, cancelTime: null });
    expect(sc.child.exitCode).toBeNull();
  });

  it('follows a rotated Secret (the kubelet swaps the ..data symlink) without a restart', async () => {
    sc.rotateToken(SECOND);
    expect((await unary('Status', bearerMetadata(FIRST))).code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await unary('Status', bearerMetadata(SECOND))).code).toBe(grpc.status.OK);
    expect((await watch(bearerMetadata(SECOND))).code).toBe(grpc.status.OK);
  });

  it('refuses everything while the token is gone from the Secret, and says so in the log', async () => {
    sc.rotateToken(null);
    const refused = await unary('Status', bearerMetadata(SECOND));
    expect(refused.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(refused.details).toContain('cannot read its control token');
    expect((await unary('Cancel', new grpc.Metadata())).code).toBe(grpc.status.UNAUTHENTICATED);
    await until('the log line', () =>
      sc.logLines().some((l) => l.msg === 'control call refused: token file unreadable or empty'),
    );
    sc.rotateToken(SECOND);
    expect((await unary('Status', bearerMetadata(SECOND))).code).toBe(grpc.status.OK);
    expect(await sc.health.check('', 1000)).toBe('SERVING');
  });

  it('logs refusals with why and from where, never a token', async () => {
    const refusedLines = sc.logLines().filter((l) => l.msg === 'control call refused');
    expect(refusedLines.length).toBeGreaterThan(0);
    expect(refusedLines[0]).toMatchObject({
      what: expect.stringContaining('peapods.v1.Lifecycle/'),
      peer: expect.any(String),
      problem: expect.any(String),
    });
    for (const t of [FIRST, SECOND, WRONG, FIRST.slice(0, -1)]) expect(sc.output()).not.toContain(t);
  });

  it('/status over HTTP answers loopback without a token', async () => {
    expect((await sc.http('/status')).code).toBe(200);
  });

  // Needs one non-loopback IPv4 address on the machine (any network interface): the sidecar
  // exempts only loopback callers, and no other address can show that it does.
  it('/status over HTTP needs the token from anywhere else', async () => {
    if (!EXTERNAL)
      throw new Error(
        'this test needs a non-loopback IPv4 address on some network interface, and the machine has none',
      );
    const url = `http://${EXTERNAL}:${sc.httpPort}/status`;
    const refused = await fetch(url);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer');
    expect(await refused.json()).toEqual({
      error: expect.stringContaining(
        'send "authorization: Bearer <token>" (gRPC metadata; an HTTP header for /status)',
      ),
    });
    expect((await fetch(url, { headers: { authorization: `Bearer ${WRONG}` } })).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: `Bearer ${SECOND}` } })).status).toBe(200);
  });

  it('Cancel with the right token cancels, and the sidecar exits 0', async () => {
    const res = await unary('Cancel', bearerMetadata(SECOND));
    expect(res.code).toBe(grpc.status.OK);
    expect(await sc.exited).toBe(0);
    expect(sc.output()).not.toContain(SECOND);
  });
});

describe('PEA_TOKEN_FILE', () => {
  it('is the environment twin of --token-file', async () => {
    const viaEnv = await startSidecar({ runtime: ['sleep', '300'], env: { PEA_TOKEN_FILE: sc.tokenFile } });
    try {
      await until('SERVING', () => viaEnv.health.isServing('', 500));
      await expect(viaEnv.status()).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
      expect(viaEnv.logLines().find((l) => l.msg === 'sidecar listening')).toMatchObject({
        authenticated: true,
      });
    } finally {
      await viaEnv.close();
    }
  });

  it("the test harness's close() takes the runtime along even when Status is refused", async () => {
    // close() used to find the runtime through Status; refused here, it orphaned `sleep 300`,
    // which held jest's pipes and hung the run after its summary.
    const locked = await startSidecar({ runtime: ['sleep', '300'], token: token() });
    await until('SERVING', () => locked.health.isServing('', 500));
    const runtime = descendants(locked.child.pid as number);
    expect(runtime.length).toBeGreaterThan(0);
    await locked.close();
    await until('the runtime gone', () => runtime.every((pid) => !alive(pid)));
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('without --token-file', () => {
  it('works as before, and warns at start that control calls are unauthenticated', async () => {
    const open = await startSidecar({ runtime: ['sleep', '300'] });
    try {
      await until('SERVING', () => open.health.isServing('', 500));
      expect((await open.status()).phase).toBe('PHASE_READY');
      expect(
        open
          .logLines()
          .find(
            (l) =>
              l.level === 40 &&
              String(l.msg).includes('control calls (Cancel, Status, Watch) are unauthenticated'),
          ),
      ).toBeDefined();
      expect(open.logLines().find((l) => l.msg === 'sidecar listening')).toMatchObject({
        authenticated: false,
      });
    } finally {
      await open.close();
    }
  });
});

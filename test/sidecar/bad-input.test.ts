// Bad RPCs get a gRPC status and the sidecar keeps serving; bad flags name the flag.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { CLI, killAll, start, until } from '../helpers/processes.js';
import { startSidecar, type SidecarUnderTest } from '../helpers/sidecar.js';

let sc: SidecarUnderTest;
let raw: grpc.Client;
beforeAll(async () => {
  sc = await startSidecar({ runtime: ['sleep', '60'] });
  raw = new grpc.Client(`127.0.0.1:${sc.grpcPort}`, grpc.credentials.createInsecure());
  await until('SERVING', () => sc.health.isServing('', 500));
});
afterAll(async () => {
  raw.close();
  await sc.close();
  killAll();
});

/** A unary call with hand-made bytes, bypassing the generated (de)serializers. */
function rawCall(method: string, body: Buffer): Promise<grpc.StatusObject | null> {
  return new Promise((resolve) => {
    raw.makeUnaryRequest(
      method,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      { deadline: Date.now() + 3000 },
      (err) => resolve(err ? { code: err.code, details: err.details, metadata: err.metadata } : null),
    );
  });
}

describe('bad RPCs', () => {
  it.each([
    ['an unknown method', '/peapods.v1.Lifecycle/Explode', Buffer.alloc(0), grpc.status.UNIMPLEMENTED],
    ['an unknown service', '/nope.v9.Nothing/Do', Buffer.alloc(0), grpc.status.UNIMPLEMENTED],
    [
      'bytes that are not protobuf',
      '/peapods.v1.Lifecycle/Cancel',
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]),
      grpc.status.INTERNAL,
    ],
    // A Cancel that decodes would end the runtime, so the lenient-decoding case uses Status.
    ['a wrong field type', '/peapods.v1.Lifecycle/Status', Buffer.from([0x0d, 1, 2, 3, 4]), null],
    [
      'a message over 64 KiB',
      '/peapods.v1.Lifecycle/Cancel',
      Buffer.alloc(70 * 1024, 0x41),
      grpc.status.RESOURCE_EXHAUSTED,
    ],
    [
      'a truncated health request',
      '/grpc.health.v1.Health/Check',
      Buffer.from([0x0a, 0xff]),
      grpc.status.INTERNAL,
    ],
  ])('%s gets a status, and health still answers', async (_what, method, body, code) => {
    const result = await rawCall(method, body);
    if (code === null)
      expect(result).toBeNull(); // protobuf skips unknown wire types as unknown fields
    else expect(result?.code).toBe(code);
    expect(await sc.health.check('', 1000)).toBe('SERVING');
  });

  it('health of an unknown service is NOT_FOUND, as the protocol says', async () => {
    await expect(sc.health.check('no.such.Service', 1000)).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
    });
  });

  it('an unknown HTTP path says which ones exist', async () => {
    expect(await sc.http('/nope')).toMatchObject({
      code: 404,
      body: { error: expect.stringContaining('/prestop') },
    });
    expect((await fetch(`http://127.0.0.1:${sc.httpPort}/status`, { method: 'DELETE' })).status).toBe(405);
  });

  it('the runtime survived all of it', async () => {
    expect(await sc.status()).toMatchObject({ phase: 'PHASE_READY', ready: true });
  });
});

describe('bad flags', () => {
  it.each([
    [
      ['--grpc-port', 'abc', '--', 'true'],
      "option '--grpc-port <port>' argument 'abc' is invalid. expected a port number 0-65535.",
    ],
    [
      ['--ready', 'ftp://x:1', '--', 'true'],
      "option '--ready <spec>' argument 'ftp://x:1' is invalid. unknown scheme \"ftp\"",
    ],
    [['--ready', 'grpc://localhost', '--', 'true'], 'needs a port 1-65535'],
    [
      ['--cancel-timeout', '-1', '--', 'true'],
      "option '--cancel-timeout <seconds>' argument '-1' is invalid",
    ],
    [
      ['--attach-env', 'nonsense', '--', 'true'],
      "option '--attach-env <NAME=VALUE>' argument 'nonsense' is invalid",
    ],
    [['--teardown', '[1,2]', '--', 'true'], 'a JSON teardown command must be a non-empty array of strings'],
    [
      ['--token-file', ' ', '--', 'true'],
      "option '--token-file <path>' argument ' ' is invalid. expected a file path",
    ],
    [['--no-such-flag'], "unknown option '--no-such-flag'"],
    [[], 'give either a runtime command after "--" or --attach-env NAME=VALUE'],
  ])('%j is refused with a message naming it', async (args, message) => {
    const p = start(process.execPath, [CLI, 'sidecar', ...args]);
    expect(await p.exited).not.toBe(0);
    expect(p.output()).toContain(message);
  });
});

// gRPC server reflection, seen by a real outside client (grpcurl, built from the Go proxy):
// list and describe work without the proto file, and reflection gives nothing that lets a
// caller without the control token act.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { goTool } from '../helpers/go-tools.js';
import { killAll, until } from '../helpers/processes.js';
import { startSidecar, type SidecarUnderTest } from '../helpers/sidecar.js';

const run = promisify(execFile);
const TOKEN = randomBytes(24).toString('base64url');
let grpcurl: string;
let sc: SidecarUnderTest;

/** grpcurl's output and exit code; it exits non-zero on a gRPC error, which some tests expect. */
async function call(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(grpcurl, ['-plaintext', ...args], { timeout: 30_000 });
    return { code: 0, out: stdout + stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

beforeAll(async () => {
  grpcurl = goTool('grpcurl');
  sc = await startSidecar({ runtime: ['sleep', '300'], token: TOKEN });
  await until('SERVING', () => sc.health.isServing('', 500));
});
afterAll(async () => {
  await sc.close();
  killAll();
});

describe('gRPC server reflection', () => {
  it('lets grpcurl list the services without the proto file', async () => {
    const { code, out } = await call(`127.0.0.1:${sc.grpcPort}`, 'list');
    expect(code).toBe(0);
    // The services it describes; reflection does not list itself.
    expect(out.split('\n').filter(Boolean).sort()).toEqual(['grpc.health.v1.Health', 'peapods.v1.Lifecycle']);
  });

  it('describes the Lifecycle methods and their messages, timestamps included', async () => {
    const svc = await call(`127.0.0.1:${sc.grpcPort}`, 'describe', 'peapods.v1.Lifecycle');
    expect(svc.code).toBe(0);
    expect(svc.out).toMatch(
      /rpc Cancel \( \.peapods\.v1\.CancelRequest \) returns \( \.peapods\.v1\.CancelResponse \)/,
    );
    expect(svc.out).toMatch(
      /rpc Watch \( \.peapods\.v1\.WatchRequest \) returns \( stream \.peapods\.v1\.RuntimeStatus \)/,
    );
    const msg = await call(`127.0.0.1:${sc.grpcPort}`, 'describe', 'peapods.v1.RuntimeStatus');
    expect(msg.code).toBe(0);
    expect(msg.out).toMatch(/\.google\.protobuf\.Timestamp cancel_time = 10;/);
  });

  it('gives no way around the control token: Cancel through reflection is still refused', async () => {
    const address = `127.0.0.1:${sc.grpcPort}`;
    const refused = await call('-d', '{"reason":"grpcurl"}', address, 'peapods.v1.Lifecycle/Cancel');
    expect(refused.code).not.toBe(0);
    expect(refused.out).toMatch(/Unauthenticated/);
    expect((await sc.status()).phase).toBe('PHASE_READY');
    // With the token, grpcurl (knowing the API only by reflection) cancels, and the answer
    // is the status once the cancel began.
    const auth = ['-H', `authorization: Bearer ${TOKEN}`];
    const done = await call(...auth, '-d', '{"reason":"grpcurl"}', address, 'peapods.v1.Lifecycle/Cancel');
    expect(done.code).toBe(0);
    expect(JSON.parse(done.out)).toMatchObject({ status: { phase: 'PHASE_CANCELLING' } });
    expect(await sc.exited).toBe(0);
  });
});

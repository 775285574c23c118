// The sidecar container's postStart gate (src/shared/started-gate.ts), run by a real /bin/sh
// beside a real sidecar: the kubelet starts the runtime container only after it exits 0, so
// it must wait until the sidecar takes control calls, and not a moment less.
import { afterEach, describe, expect, it } from '@jest/globals';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { HealthClient } from '../../src/shared/health-client.js';
import { LIFECYCLE_SERVICE } from '../../src/shared/lifecycle-proto.js';
import { startedGate } from '../../src/shared/started-gate.js';
import { CLI, example, freePort, killAll, start, tempDir } from '../helpers/processes.js';
import { startSidecar } from '../helpers/sidecar.js';

afterEach(killAll);

/** Runs the gate as the kubelet runs an exec hook: the command, as it is in the pod. */
const gate = (file: string, timeoutSeconds: number) => {
  const [sh, ...args] = startedGate(file, timeoutSeconds);
  return start(sh as string, args);
};

describe("the sidecar's postStart gate", () => {
  it('waits for a sidecar that is not there yet, and exits 0 once it takes control calls', async () => {
    const file = join(tempDir(), 'started');
    const grpcPort = await freePort();
    const hook = gate(file, 30);
    // The hook is already polling when the sidecar starts, as in a pod.
    await new Promise((r) => setTimeout(r, 300));
    expect(hook.child.exitCode).toBeNull();
    const sidecar = await startSidecar({
      grpcPort,
      flags: ['--ready', 'grpc://127.0.0.1:{health}', '--started-file', file],
      runtime: [process.execPath, example('sleeper')],
    });
    expect(await hook.exited).toBe(0);
    // By then both ports answer: Cancel on gRPC and the preStop hook's /prestop on HTTP.
    const health = new HealthClient(`127.0.0.1:${grpcPort}`);
    expect(await health.check(LIFECYCLE_SERVICE, 1000)).toBe('SERVING');
    health.close();
    expect((await sidecar.http('/healthz')).code).toBe(200);
  });

  it('is not fooled by the file an earlier run left when the sidecar cannot start', async () => {
    const file = join(tempDir(), 'started');
    writeFileSync(file, 'stale\n');
    // The gRPC port is taken, so this run never listens: the gate must keep waiting.
    const taken = createServer();
    const grpcPort = await new Promise<number>((r) =>
      taken.listen(0, '127.0.0.1', () => r((taken.address() as { port: number }).port)),
    );
    const sidecar = start(process.execPath, [
      ...[CLI, 'sidecar', '--host', '127.0.0.1', '--grpc-port', String(grpcPort), '--http-port', '0'],
      ...['--termination-log', join(tempDir(), 'log'), '--started-file', file, '--', 'sleep', '30'],
    ]);
    expect(await sidecar.exited).toBe(1);
    taken.close();
    expect(sidecar.output()).toContain(`cannot listen for gRPC on port ${grpcPort}`);
    expect(existsSync(file)).toBe(false);
  });

  it('fails with a message naming the file and where to look when no sidecar comes', async () => {
    const file = join(tempDir(), 'started');
    const hook = gate(file, 0.5);
    expect(await hook.exited).toBe(1);
    expect(hook.output()).toContain(`the sidecar did not take control calls within 0.5s (no ${file})`);
    expect(hook.output()).toContain('kubectl logs POD -c pea-runtime');
  });
});

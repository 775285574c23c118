// `pea-runtime started`: the sidecar container's postStart hook. The kubelet starts the
// runtime container only after it exits 0, so it must wait for the real sidecar to serve.
import { afterEach, describe, expect, it } from '@jest/globals';
import { HealthClient } from '../../src/shared/health-client.js';
import { LIFECYCLE_SERVICE } from '../../src/shared/lifecycle-proto.js';
import { CLI, example, freePort, killAll, start } from '../helpers/processes.js';
import { startSidecar } from '../helpers/sidecar.js';

afterEach(killAll);

describe('pea-runtime started', () => {
  it('waits for a sidecar that is not there yet, and exits 0 once it takes control calls', async () => {
    const grpcPort = await freePort();
    const hook = start(process.execPath, [
      CLI,
      'started',
      '--grpc-port',
      String(grpcPort),
      '--timeout',
      '30',
    ]);
    // The hook is already polling when the sidecar starts, as in a pod.
    await new Promise((r) => setTimeout(r, 300));
    expect(hook.child.exitCode).toBeNull();
    await startSidecar({
      grpcPort,
      flags: ['--ready', 'grpc://127.0.0.1:{health}'],
      runtime: [process.execPath, example('sleeper')],
    });
    expect(await hook.exited).toBe(0);
    const health = new HealthClient(`127.0.0.1:${grpcPort}`);
    expect(await health.check(LIFECYCLE_SERVICE, 1000)).toBe('SERVING');
    health.close();
  });

  it('fails with a message naming the port and where to look when no sidecar comes', async () => {
    const grpcPort = await freePort();
    const hook = start(process.execPath, [
      CLI,
      'started',
      '--grpc-port',
      String(grpcPort),
      '--timeout',
      '0.5',
    ]);
    expect(await hook.exited).toBe(1);
    expect(hook.output()).toContain(`did not serve ${LIFECYCLE_SERVICE} on port ${grpcPort} within 0.5s`);
  });
});

import { describe, expect, it } from '@jest/globals';
import { formatReadySpec, parseReadySpec } from '../../../src/runtime/sidecar/ready-check.js';
import { parseTeardownCommand } from '../../../src/runtime/sidecar/teardown.js';
import { sidecarExitCode, type SupervisorStatus } from '../../../src/runtime/sidecar/supervisor.js';

describe('parseReadySpec', () => {
  it.each([
    ['none', { kind: 'none' }],
    ['tcp://127.0.0.1:8080', { kind: 'tcp', host: '127.0.0.1', port: 8080 }],
    [
      'http://localhost:8080/healthz?full=1',
      { kind: 'http', host: 'localhost', port: 8080, path: '/healthz?full=1' },
    ],
    ['http://localhost:8080', { kind: 'http', host: 'localhost', port: 8080, path: '/' }],
    ['grpc://127.0.0.1:9000', { kind: 'grpc', host: '127.0.0.1', port: 9000, service: '' }],
    ['grpc://[::1]:9000/my.pkg.Model', { kind: 'grpc', host: '::1', port: 9000, service: 'my.pkg.Model' }],
  ])('%s', (text, spec) => {
    expect(parseReadySpec(text)).toEqual(spec);
  });

  it.each([
    ['', 'is not a URL'],
    ['localhost:80', 'unknown scheme "localhost"'],
    ['udp://h:1', 'unknown scheme "udp"'],
    ['tcp://h', 'needs a port'],
    ['grpc://h:70000', 'is not a URL'],
  ])('refuses %j: %s', (text, message) => {
    expect(() => parseReadySpec(text)).toThrow(message);
  });

  it('round-trips through formatReadySpec', () => {
    for (const t of ['none', 'tcp://h:1', 'http://h:2/p', 'grpc://h:3/svc'])
      expect(formatReadySpec(parseReadySpec(t))).toBe(t);
  });
});

describe('parseTeardownCommand', () => {
  it.each([
    ['["sync", "-f", "/data"]', ['sync', '-f', '/data']],
    ['echo done > /data/flag', ['/bin/sh', '-c', 'echo done > /data/flag']],
  ])('%s', (text, argv) => expect(parseTeardownCommand(text)).toEqual(argv));

  it.each(['[]', '[1]', '["a", 2]', '   '])('refuses %j', (text) =>
    expect(() => parseTeardownCommand(text)).toThrow(),
  );
});

describe('sidecarExitCode', () => {
  const base: SupervisorStatus = {
    phase: 'PHASE_EXITED',
    ready: false,
    signal: '',
    reason: '',
    message: '',
    pid: 1,
  };
  it.each([
    [{ reason: 'Cancelled', signal: 'SIGTERM' }, 0],
    [{ reason: 'Completed', exitCode: 0 }, 0],
    [{ reason: 'TeardownFailed', signal: 'SIGTERM' }, 1],
    [{ reason: 'FailedToStart', exitCode: 127 }, 127],
    [{ reason: 'RunForeverError', exitCode: 3 }, 3],
    [{ reason: 'CancelTimeout', signal: 'SIGKILL' }, 137],
    [{ reason: 'RunForeverError' }, 1],
  ])('%j → %i', (patch, code) => expect(sidecarExitCode({ ...base, ...patch })).toBe(code));
});

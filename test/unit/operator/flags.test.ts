// The operator's flags: conventional names, each with an environment-variable twin, and
// values checked before anything starts.
import { describe, expect, it } from '@jest/globals';
import { program, type OperatorFlags } from '../../../src/operator/main.js';

function parse(argv: string[], env: Record<string, string> = {}): OperatorFlags {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const cmd = program()
      .exitOverride()
      .configureOutput({ writeErr: () => undefined });
    cmd.parse(argv, { from: 'user' });
    return cmd.opts<OperatorFlags>();
  } finally {
    for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

describe('peapods-operator flags', () => {
  it('has an environment-variable twin for every flag', () => {
    const missing = program()
      .options.filter((o) => !o.envVar)
      .map((o) => o.long);
    expect(missing).toEqual([]);
  });

  it('defaults to the conventional ports, no leader election and every namespace', () => {
    const f = parse([]);
    expect(f).toMatchObject({
      namespace: '',
      leaderElect: false,
      maxConcurrentReconciles: 4,
      metricsBindAddress: { port: 8080 },
      healthProbeBindAddress: { port: 8081 },
      sidecarGrpcPort: 50051,
    });
  });

  it.each([
    [['--max-concurrent-reconciles', '8'], {}, { maxConcurrentReconciles: 8 }],
    [[], { MAX_CONCURRENT_RECONCILES: '8' }, { maxConcurrentReconciles: 8 }],
    [[], { LEADER_ELECT: 'true', WATCH_NAMESPACE: 'peas' }, { leaderElect: true, namespace: 'peas' }],
    [
      ['--metrics-bind-address', '127.0.0.1:9090'],
      {},
      { metricsBindAddress: { host: '127.0.0.1', port: 9090 } },
    ],
    [[], { HEALTH_PROBE_BIND_ADDRESS: ':9091' }, { healthProbeBindAddress: { host: '0.0.0.0', port: 9091 } }],
  ])('reads %j with environment %j', (argv, env, want) => {
    expect(parse(argv, env)).toMatchObject(want);
  });

  it('lets a flag win over its environment twin', () => {
    expect(
      parse(['--max-concurrent-reconciles', '2'], { MAX_CONCURRENT_RECONCILES: '8' }).maxConcurrentReconciles,
    ).toBe(2);
  });

  it.each([
    [['--max-concurrent-reconciles', '0'], 'positive whole number'],
    [['--metrics-bind-address', 'everywhere'], 'HOST:PORT'],
    [['--log-level', 'loud'], 'Allowed choices'],
  ])('rejects %j, saying what it expects', (argv, words) => {
    expect(() => parse(argv)).toThrow(words);
  });
});

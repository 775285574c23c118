// `pea-runtime`'s program, imported as a module: importing it parses nothing, and the
// defaults of its flags are the numbers the operator's pod passes.
import { describe, expect, it } from '@jest/globals';
import type { Command } from 'commander';
import { DEFAULT_TIMEOUTS, type Pea } from '../../../src/api/v1alpha1/types.js';
import { buildPod, DEFAULT_POD_OPTIONS } from '../../../src/operator/pod.js';
import { buildProgram } from '../../../src/runtime/cli.js';
import { STARTED_FILE } from '../../../src/shared/started-gate.js';

const pea: Pea = {
  apiVersion: 'peapods.io/v1alpha1',
  kind: 'Pea',
  metadata: { name: 'p', namespace: 'ns', uid: 'u' },
  spec: { image: 'img' },
};

/** The default of `flag` on subcommand `name`. */
function defaultOf(program: Command, name: string, flag: string): unknown {
  const cmd = program.commands.find((c) => c.name() === name);
  return cmd?.options.find((o) => o.long === flag)?.defaultValue;
}

/** The value after `flag` in an argument list. */
const after = (args: readonly string[], flag: string): string | undefined => args[args.indexOf(flag) + 1];

describe('pea-runtime program', () => {
  it('has every subcommand, and importing it ran none', () => {
    expect(
      buildProgram()
        .commands.map((c) => c.name())
        .sort(),
    ).toEqual(['prestop', 'run', 'sidecar']);
  });

  it("defaults the sidecar's timeouts and ports to the Pea's and the operator's", () => {
    const p = buildProgram();
    expect(defaultOf(p, 'sidecar', '--cancel-timeout')).toBe(DEFAULT_TIMEOUTS.cancelSeconds);
    expect(defaultOf(p, 'sidecar', '--teardown-timeout')).toBe(DEFAULT_TIMEOUTS.teardownSeconds);
    const { grpcPort, httpPort } = DEFAULT_POD_OPTIONS;
    expect(defaultOf(p, 'sidecar', '--grpc-port')).toBe(grpcPort);
    for (const cmd of ['sidecar', 'prestop']) expect(defaultOf(p, cmd, '--http-port')).toBe(httpPort);
  });

  it("takes the --started-file that the pod's postStart gate waits on", () => {
    const sidecar = buildPod(pea, 'hook-token').spec?.initContainers?.[0];
    const file = after(sidecar?.args ?? [], '--started-file');
    expect(file).toBe(STARTED_FILE);
    const options = buildProgram().commands.find((c) => c.name() === 'sidecar')?.options ?? [];
    expect(options.map((o) => o.long)).toContain('--started-file');
    expect(sidecar?.lifecycle?.postStart?.exec?.command?.[2]).toContain(`'${file}'`);
  });
});

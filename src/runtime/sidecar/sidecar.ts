// `pea-runtime sidecar`: wires the supervisor to its two ports and to the process signals.
import { rmSync, writeFileSync } from 'node:fs';
import type { Logger } from '../../shared/logger.js';
import { writeTerminationMessage } from '../termination.js';
import { controlAuth, hookAuth } from './control-auth.js';
import { startGrpcServer } from './grpc-server.js';
import { startHookServer } from './hook-server.js';
import { createReadyCheck, formatReadySpec, type ReadySpec } from './ready-check.js';
import { attachRuntime, spawnRuntime } from './runtime-process.js';
import { Supervisor, sidecarExitCode } from './supervisor.js';
import { noTeardown, runTeardownCommand } from './teardown.js';

/** `pea-runtime sidecar`'s flags, parsed. */
export interface SidecarOptions {
  /** Child mode: the runtime's argv. */
  command?: string[];
  /** Attach mode: NAME=VALUE marking the runtime container's processes. */
  attachEnv?: string;
  ready: ReadySpec;
  readyPeriodMs: number;
  host: string;
  grpcPort: number;
  httpPort: number;
  cancelTimeoutMs: number;
  teardownTimeoutMs: number;
  /** /prestop first turns NOT_SERVING and waits this long for a Cancel (a PeaSet member's drain). */
  preStopHoldMs?: number;
  teardownCommand?: string[];
  terminationLog: string;
  /** The Pea's control token (a mounted Secret); without it control calls are unauthenticated. */
  tokenFile?: string;
  /** What /prestop wants in "authorization: Bearer …" (PEA_HOOK_TOKEN); without it /prestop is open. */
  hookToken?: string;
  /** Written once both ports listen, for the pod's postStart gate (src/shared/started-gate.ts). */
  startedFile?: string;
  /** Called once the ports are open (tests and benchmarks use the bound ports). */
  onListening?: (ports: { grpc: number; http: number }) => void;
}

/** Runs until the lifecycle is over; resolves the process exit code. */
export async function runSidecar(opts: SidecarOptions, log: Logger): Promise<number> {
  const attach = opts.attachEnv !== undefined;
  const supervisor = new Supervisor({
    launch: (signal) =>
      attach
        ? attachRuntime({ env: opts.attachEnv as string, pollMs: 100, signal })
        : spawnRuntime(opts.command?.[0] as string, opts.command?.slice(1) ?? []),
    readyCheck: createReadyCheck(opts.ready),
    readyPeriodMs: opts.readyPeriodMs,
    cancelTimeoutMs: opts.cancelTimeoutMs,
    teardownTimeoutMs: opts.teardownTimeoutMs,
    teardown: opts.teardownCommand
      ? (budget) => runTeardownCommand(opts.teardownCommand as string[], budget)
      : noTeardown,
    exitCodeKnown: !attach,
    log,
  });

  const auth = controlAuth(opts.tokenFile, log);
  const hook = hookAuth(opts.hookToken, log);
  let servers;
  try {
    // Left by an earlier run of this container (a restarted sidecar keeps its emptyDir): a
    // run that never listens must not leave it. (The restarted container's gate may still see
    // the old file first; by then the runtime container runs anyway, so it holds nothing back.)
    if (opts.startedFile) rmSync(opts.startedFile, { force: true });
    const grpc = await startGrpcServer(supervisor, opts.host, opts.grpcPort, auth, log);
    const who = { control: auth, hook };
    const http = await startHookServer(
      supervisor,
      opts.host,
      opts.httpPort,
      opts.teardownTimeoutMs,
      who,
      log,
      opts.preStopHoldMs,
    ).catch(async (err) => {
      await grpc.close();
      throw err;
    });
    servers = [grpc, http];
    if (opts.startedFile) {
      try {
        writeFileSync(opts.startedFile, `${process.pid}\n`);
      } catch (err) {
        await Promise.all(servers.map((s) => s.close()));
        throw new Error(`cannot write --started-file ${opts.startedFile}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
    opts.onListening?.({ grpc: grpc.port, http: http.port });
  } catch (err) {
    log.error({ err }, 'sidecar could not start');
    writeTerminationMessage(opts.terminationLog, String(err), log);
    return 1;
  }
  log.info(
    {
      mode: attach ? `attach ${opts.attachEnv}` : 'child',
      ready: formatReadySpec(opts.ready),
      authenticated: auth.enabled,
      hookAuthenticated: hook.enabled,
      grpcPort: servers[0]?.port,
      httpPort: servers[1]?.port,
    },
    'sidecar listening',
  );

  // In attach mode the sidecar outlives the runtime (Kubernetes stops a native sidecar
  // after the main containers), so after the end it keeps answering Status until SIGTERM.
  const terminated = new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      log.info({ signal: sig }, 'signal received');
      supervisor.cancel(sig);
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });

  void supervisor.start();
  const final = await supervisor.done;
  writeTerminationMessage(opts.terminationLog, `${final.reason}: ${final.message}`, log);
  if (attach) await terminated;
  await Promise.all(servers.map((s) => s.close()));
  return sidecarExitCode(final);
}

// Runs one BaseRuntime as a process: the seed's S. Ready ⇒ grpc.health.v1 SERVING on the
// health port (what the sidecar's `--ready grpc://127.0.0.1:PORT` reads); SIGTERM/SIGINT ⇒
// cancel(); exit 0 after a clean end, non-zero on failure, reason in the termination log.
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { createLogger, type Logger } from '../../shared/logger.js';
import { Reason } from '../../shared/words.js';
import { DEFAULT_TERMINATION_LOG, writeTerminationMessage } from '../termination.js';
import { ReadyEvent, type BaseRuntime, type RuntimeClass } from './base-runtime.js';

/** How serveRuntime() hosts a runtime. */
export interface HostOptions {
  args?: string[];
  /** 0 = no health server (in-process use). Default: $PEA_HEALTH_PORT or 50061. */
  healthPort?: number;
  terminationLog?: string;
  log?: Logger;
}

/** How a hosted runtime ended: its exit code and the words for the termination message. */
export interface HostResult {
  exitCode: number;
  reason: string;
  message: string;
}

/** Drives the lifecycle once and resolves how it ended; never rejects, never exits. */
export async function hostRuntime(Runtime: RuntimeClass, opts: HostOptions = {}): Promise<HostResult> {
  const log = opts.log ?? createLogger(Runtime.name || 'runtime');
  let health: HealthHandle;
  try {
    health = await startHealth(opts.healthPort ?? Number(process.env.PEA_HEALTH_PORT ?? 50061), log);
  } catch (err) {
    return end(log, opts, { exitCode: 1, reason: Reason.FailedToStart, message: errorText(err) });
  }
  let runtime: BaseRuntime;
  try {
    runtime = new Runtime({ args: opts.args ?? [], log });
    await runtime.init();
  } catch (err) {
    await health.close();
    return end(log, opts, {
      exitCode: 1,
      reason: Reason.FailedToStart,
      message: `init failed: ${errorText(err)}`,
    });
  }

  const ready = new ReadyEvent();
  let cancelled = false;
  const cancel = (why: string): void => {
    if (cancelled) return;
    cancelled = true;
    health.set('NOT_SERVING');
    log.info({ why }, 'cancel');
    Promise.resolve()
      .then(() => runtime.cancel())
      .catch((err: unknown) => log.error({ err }, 'cancel() threw'));
  };
  const onSignal = (sig: NodeJS.Signals): void => cancel(sig);
  process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
  void ready.wait().then(() => {
    if (!cancelled) health.set('SERVING');
    log.info('ready');
  });

  let result: HostResult;
  try {
    await runtime.runForever(ready);
    result = {
      exitCode: 0,
      reason: cancelled ? Reason.Cancelled : Reason.Completed,
      message: 'runForever returned',
    };
  } catch (err) {
    const reason = ready.isSet ? Reason.RunForeverError : Reason.FailedToStart;
    result = { exitCode: 1, reason, message: `runForever threw: ${errorText(err)}` };
  }
  process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
  health.set('NOT_SERVING');
  try {
    await runtime.teardown();
  } catch (err) {
    result = {
      exitCode: 1,
      reason: result.exitCode ? result.reason : Reason.TeardownFailed,
      message: `${result.message}; teardown threw: ${errorText(err)}`,
    };
  }
  await health.close();
  return end(log, opts, result);
}

/** For a runtime's main module: host it, then exit with its code. */
export async function serveRuntime(Runtime: RuntimeClass, opts: HostOptions = {}): Promise<never> {
  const result = await hostRuntime(Runtime, { args: process.argv.slice(2), ...opts });
  process.exit(result.exitCode);
}

function end(log: Logger, opts: HostOptions, result: HostResult): HostResult {
  log[result.exitCode ? 'error' : 'info'](result, 'runtime ended');
  writeTerminationMessage(
    opts.terminationLog ?? DEFAULT_TERMINATION_LOG,
    `${result.reason}: ${result.message}`,
    log,
  );
  return result;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

interface HealthHandle {
  set(status: 'SERVING' | 'NOT_SERVING'): void;
  close(): Promise<void>;
}

async function startHealth(port: number, log: Logger): Promise<HealthHandle> {
  if (!port) return { set: () => undefined, close: async () => undefined };
  const server = new grpc.Server();
  const health = new HealthImplementation({ '': 'NOT_SERVING' });
  health.addToServer(server);
  await new Promise<number>((resolve, reject) =>
    server.bindAsync(`0.0.0.0:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err
        ? reject(
            new Error(
              `cannot serve health on port ${port}: ${err.message} (set PEA_HEALTH_PORT to a free port)`,
            ),
          )
        : resolve(p),
    ),
  );
  log.debug({ port }, 'health server listening');
  return {
    set: (status) => health.setStatus('', status),
    close: () =>
      new Promise((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}

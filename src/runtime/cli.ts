// `pea-runtime`: the program inside every Pea pod (and the image's entrypoint; started
// through main.js). Each subcommand loads only what it needs.
// Loading, the pattern to keep (every Pea pod waits for the sidecar's start; see
// docs/performance.md): the static imports here are what parsing the flags needs, and
// light; what a subcommand runs comes in its action, with `await import(...)`. Nothing on the
// sidecar's path imports src/api/v1alpha1/types.ts (building its TypeBox schemas cost the
// sidecar ~80 ms): plain values of the API live in defaults.ts. What the sidecar serves it
// loads in sidecar/ as before (a new gRPC service, such as reflection, is imported by
// grpc-server.ts); check the cost with `node dist/bench/sidecar.bench.js`.
//   pea-runtime sidecar [options] [-- CMD ARGS...]   supervise the runtime, serve lifecycle
//   pea-runtime run MODULE [ARGS...]                 host a BaseRuntime subclass as a process
//   pea-runtime prestop                              exec-form preStop: ask the sidecar to tear down
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_TIMEOUTS } from '../api/v1alpha1/defaults.js';
import { createLogger } from '../shared/logger.js';
import { SIDECAR_GRPC_PORT, SIDECAR_HTTP_PORT } from '../shared/sidecar-defaults.js';
import { parseReadySpec } from './sidecar/ready-check.js';
import { parseTeardownCommand } from './sidecar/teardown.js';
import { DEFAULT_TERMINATION_LOG } from './termination.js';
import type { RuntimeClass } from './sdk/base-runtime.js';

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('expected a port number 0-65535.');
  return n;
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || value.trim() === '')
    throw new InvalidArgumentError('expected a positive number of seconds, e.g. 10 or 0.5.');
  return n;
}

function wrap<T>(parse: (v: string) => T): (v: string) => T {
  return (v) => {
    try {
      return parse(v);
    } catch (err) {
      throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
    }
  };
}

function filePath(value: string): string {
  if (value.trim() === '')
    throw new InvalidArgumentError('expected a file path, e.g. /var/run/secrets/peapods/token.');
  return value;
}

/**
 * PEA_HOOK_TOKEN: environment only, never a flag, because a flag's value shows in every
 * process listing on the node. Unset means /prestop is open; set, it must be something a
 * "Bearer <token>" header can carry.
 */
function hookTokenFromEnv(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!/^[\x21-\x7e]+$/.test(value)) {
    throw new InvalidArgumentError(
      'PEA_HOOK_TOKEN must be non-empty printable ASCII without spaces (e.g. base64url); ' +
        'unset it to leave /prestop open.',
    );
  }
  return value;
}

function envMarker(value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*=.+$/.test(value))
    throw new InvalidArgumentError('expected NAME=VALUE, e.g. PEAPODS_RUNTIME=1.');
  return value;
}

/** The `pea-runtime` command line and its subcommands; parseAsync() runs it. */
export function buildProgram(): Command {
  const program = new Command('pea-runtime')
    .description('The Peapods runtime sidecar and runtime host.')
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('sidecar')
    .description(
      'Supervise a Pea runtime: ready → gRPC health, Cancel RPC/SIGTERM/preStop → cancel, then teardown once.',
    )
    .usage('[options] [-- CMD ARGS...]')
    .argument('[command...]', 'the runtime to start as a child (omit with --attach-env)')
    .addOption(
      new Option(
        '--attach-env <NAME=VALUE>',
        "supervise the pod's other container: the process in the shared PID namespace whose environment has NAME=VALUE",
      )
        .argParser(envMarker)
        .env('PEA_ATTACH_ENV'),
    )
    .addOption(
      new Option(
        '--ready <spec>',
        'how to tell the runtime is ready: none | tcp://HOST:PORT | http://HOST:PORT/PATH | grpc://HOST:PORT[/SERVICE]',
      )
        .default(parseReadySpec('none'), 'none')
        .argParser(wrap(parseReadySpec))
        .env('PEA_READY'),
    )
    .addOption(
      new Option('--ready-period <seconds>', 'how often to run the ready check')
        .default(0.25)
        .argParser(seconds)
        .env('PEA_READY_PERIOD'),
    )
    .addOption(
      new Option(
        '--grpc-port <port>',
        'gRPC port: grpc.health.v1 and peapods.v1.Lifecycle, on all interfaces',
      )
        .default(SIDECAR_GRPC_PORT)
        .argParser(port)
        .env('PEA_GRPC_PORT'),
    )
    .addOption(
      new Option('--http-port <port>', 'HTTP port: /prestop (the preStop hook), /healthz, /readyz, /status')
        .default(SIDECAR_HTTP_PORT)
        .argParser(port)
        .env('PEA_HTTP_PORT'),
    )
    .addOption(new Option('--host <address>', 'address to listen on').default('0.0.0.0').env('PEA_HOST'))
    .addOption(
      new Option('--cancel-timeout <seconds>', 'SIGTERM → SIGKILL delay when cancelling the runtime')
        .default(DEFAULT_TIMEOUTS.cancelSeconds)
        .argParser(seconds)
        .env('PEA_CANCEL_TIMEOUT'),
    )
    .addOption(
      new Option(
        '--teardown-timeout <seconds>',
        'budget of the preStop hook: cancel, runtime exit and teardown',
      )
        .default(DEFAULT_TIMEOUTS.teardownSeconds)
        .argParser(seconds)
        .env('PEA_TEARDOWN_TIMEOUT'),
    )
    .addOption(
      new Option(
        '--prestop-hold-seconds <seconds>',
        'preStop first turns NOT_SERVING and waits up to this long for a Cancel ' +
          "(the operator's drain) before cancelling",
      )
        .default(0)
        .argParser(seconds)
        .env('PEA_PRESTOP_HOLD_SECONDS'),
    )
    .addOption(
      new Option(
        '--teardown <command>',
        'run once after the runtime exited: a JSON array (exec form) or a shell command',
      )
        .argParser(wrap(parseTeardownCommand))
        .env('PEA_TEARDOWN'),
    )
    .addOption(
      new Option('--termination-log <path>', 'where to write why the runtime ended')
        .default(DEFAULT_TERMINATION_LOG)
        .env('PEA_TERMINATION_LOG'),
    )
    .addOption(
      new Option(
        '--token-file <path>',
        'the Pea\'s control token (a mounted Secret), required as "authorization: Bearer <token>" on ' +
          'Cancel, Status and Watch; read on every call, so a rotated Secret takes effect at once',
      )
        .argParser(filePath)
        .env('PEA_TOKEN_FILE'),
    )
    .addOption(
      new Option(
        '--started-file <path>',
        "written once both ports listen, for the pod's postStart hook to wait on (removed at start)",
      )
        .argParser(filePath)
        .env('PEA_STARTED_FILE'),
    )
    .addOption(
      new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info').env('LOG_LEVEL'),
    )
    .addHelpText(
      'after',
      '\nEnvironment only:\n' +
        '  PEA_HOOK_TOKEN  required as "authorization: Bearer <token>" on /prestop (the preStop hook sends it); ' +
        'unset: /prestop is open',
    )
    .action(async (command: string[], o) => {
      if (command.length > 0 === Boolean(o.attachEnv)) {
        program.error(
          'error: give either a runtime command after "--" or --attach-env NAME=VALUE, not both and not neither',
          { exitCode: 2 },
        );
      }
      let hookToken: string | undefined;
      try {
        hookToken = hookTokenFromEnv(process.env.PEA_HOOK_TOKEN);
      } catch (err) {
        program.error(`error: ${(err as Error).message}`, { exitCode: 2 });
      }
      const log = createLogger('pea-runtime-sidecar', o.logLevel);
      const { runSidecar } = await import('./sidecar/sidecar.js');
      process.exitCode = await runSidecar(
        {
          command: command.length ? command : undefined,
          attachEnv: o.attachEnv,
          ready: o.ready,
          readyPeriodMs: o.readyPeriod * 1000,
          host: o.host,
          grpcPort: o.grpcPort,
          httpPort: o.httpPort,
          cancelTimeoutMs: o.cancelTimeout * 1000,
          teardownTimeoutMs: o.teardownTimeout * 1000,
          preStopHoldMs: o.prestopHoldSeconds * 1000,
          teardownCommand: o.teardown,
          terminationLog: o.terminationLog,
          tokenFile: o.tokenFile,
          startedFile: o.startedFile,
          hookToken,
        },
        log,
      );
    });

  program
    .command('run')
    .description('Host a BaseRuntime subclass (the default export of MODULE) as a process.')
    .argument('<module>', 'a JavaScript module whose default export extends BaseRuntime')
    .argument('[args...]', 'passed to the runtime as context.args')
    .addOption(
      new Option('--health-port <port>', 'grpc.health.v1 port: SERVING once the runtime is ready')
        .default(50061)
        .argParser(port)
        .env('PEA_HEALTH_PORT'),
    )
    .addOption(
      new Option('--termination-log <path>', 'where to write why the runtime ended')
        .default(DEFAULT_TERMINATION_LOG)
        .env('PEA_TERMINATION_LOG'),
    )
    .action(async (module: string, args: string[], o) => {
      const mod = (await import(pathToFileURL(resolve(module)).href)) as { default?: RuntimeClass };
      if (typeof mod.default !== 'function')
        program.error(`error: ${module} has no default export; export your BaseRuntime subclass as default`, {
          exitCode: 2,
        });
      const { serveRuntime } = await import('./sdk/host.js');
      await serveRuntime(mod.default as RuntimeClass, {
        args,
        healthPort: o.healthPort,
        terminationLog: o.terminationLog,
      });
    });

  program
    .command('prestop')
    .description(
      'Exec-form preStop hook (needs this binary in the container): ' +
        'ask the sidecar to cancel and tear down, and wait. Sends $PEA_HOOK_TOKEN when set.',
    )
    .addOption(
      new Option('--http-port <port>', "the sidecar's HTTP port")
        .default(SIDECAR_HTTP_PORT)
        .argParser(port)
        .env('PEA_HTTP_PORT'),
    )
    .action(async (o) => {
      // In the sidecar's own container the sidecar's environment is this hook's too.
      const token = process.env.PEA_HOOK_TOKEN;
      const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
      const url = `http://127.0.0.1:${o.httpPort}/prestop`;
      const res = await fetch(url, { method: 'POST', headers }).catch((err: Error) => err);
      if (res instanceof Error)
        return program.error(`error: the sidecar did not answer on port ${o.httpPort}: ${res.message}`, {
          exitCode: 1,
        });
      process.stdout.write(`${await res.text()}\n`);
      process.exitCode = res.ok ? 0 : 1;
    });

  return program;
}

// Run as a program only when started itself (main.ts starts it otherwise), so that tests can
// import buildProgram() without it parsing their own argv.
if (import.meta.url === `file://${process.argv[1]}`) await buildProgram().parseAsync(process.argv);

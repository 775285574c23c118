#!/usr/bin/env node
// `kubectl-pea`: the kubectl plugin for Peas (krew's naming: kubectl finds `kubectl-pea` on
// PATH and runs it for `kubectl pea …`). Commands: status, cancel, logs, list. Exit codes in
// exit.ts; errors name the Pea and the namespace; output fits in 100 columns.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { Pea } from '../api/v1alpha1/types.js';
import { CliError, Exit } from './exit.js';
import { between, duration } from './format.js';
import { Kube, type KubeFlags } from './kube.js';
import { renderList } from './list.js';
import { formatLine, interleave, LOG_CONTAINERS, parseLog } from './logs.js';
import { renderStatus } from './status.js';

type Print = (line: string) => void;

function seconds(v: string): number {
  const m = /^(\d+)(s|m|h)?$/.exec(v);
  if (!m) throw new InvalidArgumentError('expected a duration such as 90s, 5m or 1h.');
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[(m[2] ?? 's') as 's' | 'm' | 'h'];
}

function count(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number.');
  return n;
}

const ended = (p: Pea) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';

async function status(kube: Kube, name: string, print: Print): Promise<number> {
  const pea = await kube.pea(name);
  const pod = pea.status?.podName ? await kube.pod(pea.status.podName) : undefined;
  const uids = [pea.metadata.uid, pod?.metadata?.uid].filter((u): u is string => Boolean(u));
  const warnings = await kube.warnings(uids);
  for (const line of renderStatus({ pea, pod, warnings }, new Date())) print(line);
  return Exit.Ok;
}

async function cancel(
  kube: Kube,
  name: string,
  o: { wait: boolean; timeout: number },
  print: Print,
): Promise<number> {
  const before = await kube.pea(name);
  const where = `pea ${kube.namespace}/${name}`;
  if (ended(before)) {
    print(`${where} has already ended: ${before.status?.phase} (${before.status?.reason ?? ''})`);
    return before.status?.phase === 'Failed' && o.wait ? Exit.EndedFailed : Exit.Ok;
  }
  await kube.cancel(name);
  print(`${where}: spec.cancel set${o.wait ? '; waiting for it to end' : ''}`);
  if (!o.wait) return Exit.Ok;
  const sent = Date.now();
  for (;;) {
    const pea = await kube.pea(name);
    if (ended(pea)) {
      const s = pea.status ?? {};
      const took = between(s.cancelTime, s.finishTime);
      print(
        `${where} ended: ${s.phase} (${s.reason ?? ''})` +
          (took === undefined ? '' : ` ${duration(took)} after the cancel`),
      );
      if (s.message) print(`  ${s.message}`.slice(0, 100));
      return s.phase === 'Succeeded' ? Exit.Ok : Exit.EndedFailed;
    }
    if (Date.now() - sent > o.timeout * 1000) {
      print(
        `${where} has not ended after ${duration(o.timeout * 1000)}: it is ${pea.status?.phase ?? 'Pending'}`,
      );
      return Exit.Timeout;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function logs(
  kube: Kube,
  name: string,
  o: { tail?: number; previous: boolean; timestamps: boolean },
  print: Print,
): Promise<number> {
  const pea = await kube.pea(name);
  const s = pea.status ?? {};
  const pod = o.previous ? s.lastTermination?.podName : s.podName;
  const where = `pea ${kube.namespace}/${name}`;
  if (!pod)
    throw new CliError(
      o.previous ? `${where} has no previous run (status.lastTermination)` : `${where} has no pod yet`,
    );
  const all = await Promise.all(
    LOG_CONTAINERS.map((c) =>
      kube.log(pod, c, o.tail).then(
        (text) => parseLog(c, text),
        (err: unknown) => {
          throw new CliError(
            `cannot read the logs of container ${c} of pod ${pod} (${where}): ${Kube.said(err)}`,
          );
        },
      ),
    ),
  );
  for (const l of interleave(all)) print(formatLine(l, o.timestamps));
  return Exit.Ok;
}

/** The `kubectl pea` command line; each command's exit code goes to `exit`. */
export function program(
  exit: (code: number) => void,
  print: Print = (l) => process.stdout.write(`${l}\n`),
): Command {
  const root = new Command('kubectl pea')
    .description('Status, cancel, logs and lists of Peas (peas.peapods.io), as a kubectl plugin.')
    .addOption(
      new Option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)'),
    )
    .addOption(new Option('--context <name>', 'kubeconfig context to use (default: its current context)'))
    .addOption(new Option('-n, --namespace <ns>', "namespace (default: the context's, else default)"))
    .showHelpAfterError()
    .addHelpText(
      'after',
      '\nExit codes: 0 done; 1 the cluster failed a call; 2 bad usage; 3 Pea not found;\n' +
        '4 cancel --wait: the Pea ended Failed; 5 cancel --wait: not ended within --timeout.',
    );
  const kube = () => new Kube(root.opts<KubeFlags>());
  root
    .command('status')
    .description("the Pea's phase and why, its pod and node, a timeline of its run, restarts, Warnings")
    .argument('<name>', 'the Pea')
    .action(async (name: string) => exit(await status(kube(), name, print)));
  root
    .command('cancel')
    .description('set spec.cancel: the runtime is cancelled and torn down, and the Pea ends')
    .argument('<name>', 'the Pea')
    .option('--wait', 'wait until the Pea has ended and say how', false)
    .addOption(
      new Option('--timeout <duration>', 'with --wait: how long, e.g. 90s, 5m')
        .default(300, '5m')
        .argParser(seconds),
    )
    .action(async (name: string, o: { wait: boolean; timeout: number }) =>
      exit(await cancel(kube(), name, o, print)),
    );
  root
    .command('logs')
    .description(
      "the runtime's and the sidecar's logs, interleaved by time, each line named with its container",
    )
    .argument('<name>', 'the Pea')
    .addOption(new Option('--tail <lines>', 'only the last lines of each container').argParser(count))
    .option('-p, --previous', "the logs of the previous run's pod (after a restart)", false)
    .option('--timestamps', "show the kubelet's timestamp of each line", false)
    .action(async (name: string, o: { tail?: number; previous: boolean; timestamps: boolean }) =>
      exit(await logs(kube(), name, o, print)),
    );
  root
    .command('list')
    .description('the Peas with their phase, how long they have been in it, and the reason')
    .option('-A, --all-namespaces', 'Peas of every namespace', false)
    .action(async (o: { allNamespaces: boolean }) => {
      const k = kube();
      const lines = renderList(await k.peas(o.allNamespaces), new Date(), o.allNamespaces);
      if (lines.length === 0) print(`No peas found${o.allNamespaces ? '' : ` in namespace ${k.namespace}`}.`);
      for (const l of lines) print(l);
    });
  return root;
}

/** Runs `kubectl pea` with `argv` (without node and the script); resolves the exit code. */
export async function run(argv: string[]): Promise<number> {
  let code: number = Exit.Ok;
  const cmd = program((c) => (code = c));
  cmd.exitOverride();
  for (const sub of cmd.commands) sub.exitOverride();
  try {
    await cmd.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version are not errors; commander has printed what it had to.
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.help' ? Exit.Ok : Exit.Usage;
    }
    if (err instanceof CliError) {
      process.stderr.write(`kubectl pea: ${err.message}\n`);
      return err.code;
    }
    process.stderr.write(`kubectl pea: ${err instanceof Error ? err.message : String(err)}\n`);
    return Exit.Error;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('kubectl-pea')) {
  void run(process.argv.slice(2)).then((code) => process.exit(code));
}

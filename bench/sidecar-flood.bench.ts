// Health under attack (issue 5): health Check latency of one sidecar while idle, during a
// flood of the hostile inputs of test/helpers/hostile-inputs.ts (replayed without pause from a
// worker thread), and idle again afterwards, all in one run. Prints figures; asserts nothing.
//   node dist/bench/sidecar-flood.bench.js [--checks N] [--concurrency N]
// The kubelet's readiness probe gives the sidecar 1 s (pod.ts timeoutSeconds), once a
// second, failing the Pea's readiness at the first miss: that is the bar a flood must not
// push Check over.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { HealthClient } from '../src/shared/health-client.js';
import { Connections, hostileInputs, sendAll, type Target } from '../test/helpers/hostile-inputs.js';
import { percentile, printTable, type Row } from './stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = join(ROOT, 'dist/src/runtime/main.js');
const PROBE_TIMEOUT_MS = 1000;

interface FloodReport {
  rounds: number;
  calls: number;
  /** Answers outside what the input allows (the test fails on any; here they are counted). */
  unexpected: number;
  seconds: number;
}

/** Worker side: replays seeded rounds of hostile inputs until told to stop. */
async function flood(target: Target, concurrency: number): Promise<void> {
  let stop = false;
  parentPort?.on('message', () => (stop = true));
  const report: FloodReport = { rounds: 0, calls: 0, unexpected: 0, seconds: 0 };
  const t0 = performance.now();
  while (!stop) {
    const connections = new Connections(target);
    const outcomes = await sendAll(
      hostileInputs(target, 1000 + report.rounds),
      connections,
      concurrency,
      () => stop,
    );
    connections.close();
    report.rounds++;
    for (const o of outcomes) {
      report.calls += o.codes.length;
      report.unexpected += o.codes.filter((c) => !o.input.allowed.includes(c)).length;
    }
  }
  report.seconds = (performance.now() - t0) / 1000;
  parentPort?.postMessage(report);
}

function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

/** Check latencies: `n` on one reused connection, then `n / 10` each on a new one (as the kubelet dials). */
async function checks(
  port: number,
  n: number,
): Promise<{ reused: number[]; fresh: number[]; failed: number }> {
  const out = { reused: [] as number[], fresh: [] as number[], failed: 0 };
  const time = async (c: HealthClient, into: number[]): Promise<void> => {
    const t0 = performance.now();
    const status = await c.check('', 5000).catch(() => 'error');
    into.push(performance.now() - t0);
    if (status !== 'SERVING') out.failed++;
  };
  const reused = new HealthClient(`127.0.0.1:${port}`);
  await reused.check('', 5000);
  for (let i = 0; i < n; i++) await time(reused, out.reused);
  reused.close();
  for (let i = 0; i < n / 10; i++) {
    const c = new HealthClient(`127.0.0.1:${port}`);
    await time(c, out.fresh);
    c.close();
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { checks: { type: 'string', default: '2000' }, concurrency: { type: 'string', default: '48' } },
  });
  const n = Number(values.checks);
  const dir = mkdtempSync(join(tmpdir(), 'peapods-flood-'));
  const token = randomBytes(24).toString('base64url');
  writeFileSync(join(dir, 'token'), token);
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const sidecar: ChildProcess = spawn(
    process.execPath,
    [
      CLI,
      'sidecar',
      '--host',
      '127.0.0.1',
      '--grpc-port',
      String(grpcPort),
      '--http-port',
      String(httpPort),
      '--token-file',
      join(dir, 'token'),
      '--termination-log',
      join(dir, 'termination-log'),
      '--',
      'sleep',
      '3600',
    ],
    { stdio: 'ignore' },
  );
  try {
    const probe = new HealthClient(`127.0.0.1:${grpcPort}`);
    while (!(await probe.isServing('', 200))) await new Promise((r) => setTimeout(r, 20));
    probe.close();
    process.stdout.write(
      `sidecar flood benchmark: ${n} Checks on a reused connection and ${n / 10} on new ones per phase, ` +
        `Node ${process.version}\n`,
    );

    const idle = await checks(grpcPort, n);
    const worker = new Worker(fileURLToPath(import.meta.url), {
      workerData: { target: { port: grpcPort, token }, concurrency: Number(values.concurrency) },
    });
    const report = new Promise<FloodReport>((res) => worker.once('message', res));
    await new Promise((r) => setTimeout(r, 500)); // let the flood reach full speed
    const during = await checks(grpcPort, n);
    worker.postMessage('stop');
    const flooded = await report;
    await worker.terminate();
    const after = await checks(grpcPort, n);

    const over = (xs: number[]): number => xs.filter((x) => x > PROBE_TIMEOUT_MS).length;
    const rows: Row[] = [
      {
        what: 'Check, reused connection p50',
        baseline: percentile(idle.reused, 50),
        ours: percentile(during.reused, 50),
        unit: 'ms',
      },
      {
        what: 'Check, reused connection p99',
        baseline: percentile(idle.reused, 99),
        ours: percentile(during.reused, 99),
        unit: 'ms',
        target: '< 1 s probe timeout',
      },
      {
        what: 'Check, new connection p50',
        baseline: percentile(idle.fresh, 50),
        ours: percentile(during.fresh, 50),
        unit: 'ms',
      },
      {
        what: 'Check, new connection p99',
        baseline: percentile(idle.fresh, 99),
        ours: percentile(during.fresh, 99),
        unit: 'ms',
        target: '< 1 s probe timeout',
      },
      {
        what: 'Check, reused, idle again after p99',
        baseline: percentile(idle.reused, 99),
        ours: percentile(after.reused, 99),
        unit: 'ms',
      },
      {
        what: 'Checks over 1 s or not SERVING',
        baseline: over([...idle.reused, ...idle.fresh]) + idle.failed,
        ours: over([...during.reused, ...during.fresh]) + during.failed,
        unit: 'n',
        target: '0',
      },
    ];
    printTable('health Check: idle (baseline) vs during the hostile flood (peapods)', rows);
    process.stdout.write(
      `\nflood: ${flooded.calls} hostile calls in ${flooded.seconds.toFixed(1)} s ` +
        `(${(flooded.calls / flooded.seconds).toFixed(0)}/s, ${flooded.rounds} seeded rounds), ` +
        `${flooded.unexpected} answered outside what the input allows; ` +
        `sidecar ${sidecar.exitCode === null ? 'still running' : `exited ${sidecar.exitCode}`}, ` +
        `health afterwards ${after.failed === 0 ? 'SERVING' : `not SERVING ${after.failed} times`}\n`,
    );
  } finally {
    // SIGTERM: the sidecar cancels its runtime (a SIGKILLed one would leave `sleep` behind).
    const gone = new Promise((r) => sidecar.once('exit', r));
    sidecar.kill('SIGTERM');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
    sidecar.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMainThread) await main();
else
  await flood((workerData as { target: Target }).target, (workerData as { concurrency: number }).concurrency);

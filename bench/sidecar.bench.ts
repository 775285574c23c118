// `make bench` (sidecar part): pea-runtime sidecar against a bare grpc-js + grpc-health-check
// server measured in the same run, on loopback. Prints figures; asserts nothing.
//   node dist/bench/sidecar.bench.js [--runs N]
// The start is compared with a compile cache on both sides, each a directory of its own and
// warm, as the image gives the sidecar one (Dockerfile); without one on either side too.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { HealthClient } from '../src/shared/health-client.js';
import { lifecycleClient, type RuntimeStatus } from '../src/shared/lifecycle-proto.js';
import { percentile, printTable, type Row } from './stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = join(ROOT, 'dist/src/runtime/main.js');
const BARE = join(ROOT, 'dist/bench/bare-health-server.js');
const SLEEPER = join(ROOT, 'dist/examples/sleeper.js');
const { values } = parseArgs({ options: { runs: { type: 'string', default: '30' } } });
const RUNS = Number(values.runs);
const FAST = {
  'grpc.initial_reconnect_backoff_ms': 2,
  'grpc.max_reconnect_backoff_ms': 5,
  'grpc.min_reconnect_backoff_ms': 2,
};

function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

interface Target {
  name: string;
  start(grpcPort: number): Promise<ChildProcess>;
}

/** The bare server without a compile cache, even where the environment names one (the image's). */
const bare: Target = {
  name: 'bare',
  start: async (port) =>
    spawn(process.execPath, [BARE, String(port)], {
      stdio: 'ignore',
      env: { ...process.env, NODE_DISABLE_COMPILE_CACHE: '1' },
    }),
};

/** The bare server with a compile cache of its own (warm after its first start), as the sidecar has. */
const bareCached: Target = {
  name: 'bare, compile cache',
  start: async (port) =>
    spawn(process.execPath, [BARE, String(port)], {
      stdio: 'ignore',
      env: { ...process.env, NODE_COMPILE_CACHE: bareCache },
    }),
};

/** The sidecar's own cost: its runtime is `sleep`, ready as soon as it runs. */
const sidecar: Target = {
  name: 'sidecar',
  start: async (port) =>
    startSidecar(port, ['--ready', 'none'], ['sleep', '3600'], { NODE_COMPILE_CACHE: sidecarCache }),
};

/** The same without a compile cache (main.ts turns one on; this env turns it off), beside `bare`. */
const sidecarNoCache: Target = {
  name: 'sidecar, no compile cache',
  start: async (port) =>
    startSidecar(port, ['--ready', 'none'], ['sleep', '3600'], { NODE_DISABLE_COMPILE_CACHE: '1' }),
};

/**
 * The same with an empty compile cache, as every Pea pod's sidecar started before the image
 * carried one (a fresh /tmp each pod): what the cache in the image saves each pod.
 */
const sidecarColdCache: Target = {
  name: 'sidecar, empty compile cache',
  start: async (port) =>
    startSidecar(port, ['--ready', 'none'], ['sleep', '3600'], {
      NODE_COMPILE_CACHE: coldCache(),
    }),
};

const coldCaches: string[] = [];
const bareCache = coldCache();
const sidecarCache = coldCache();
function coldCache(): string {
  coldCaches.push(mkdtempSync(join(tmpdir(), 'peapods-bench-cache-')));
  return coldCaches.at(-1) as string;
}

/** What a user sees: the sidecar with an SDK runtime (a second Node process) behind it. */
const sidecarWithSdkRuntime: Target = {
  name: 'sidecar + SDK runtime',
  start: async (port) => {
    const health = await freePort();
    return startSidecar(
      port,
      ['--ready', `grpc://127.0.0.1:${health}`, '--ready-period', '0.01'],
      [process.execPath, SLEEPER],
      { PEA_HEALTH_PORT: String(health) },
    );
  },
};

async function startSidecar(
  port: number,
  flags: string[],
  runtime: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<ChildProcess> {
  const http = await freePort();
  return spawn(
    process.execPath,
    [
      CLI,
      'sidecar',
      '--host',
      '127.0.0.1',
      '--grpc-port',
      String(port),
      '--http-port',
      String(http),
      '--log-level',
      'warn',
      ...flags,
      '--',
      ...runtime,
    ],
    { stdio: 'ignore', env: { ...process.env, ...env } },
  );
}

/** spawn → first SERVING, polled by a client that reconnects every few ms. */
async function timeToServing(t: Target): Promise<number> {
  const port = await freePort();
  const client = new HealthClient(`127.0.0.1:${port}`, undefined, FAST);
  const t0 = performance.now();
  const child = await t.start(port);
  while (!(await client.isServing('', 50))) await new Promise((r) => setTimeout(r, 1));
  const ms = performance.now() - t0;
  client.close();
  await stop(child);
  return ms;
}

async function stop(child: ChildProcess): Promise<void> {
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await gone;
}

/**
 * Health Check latency against both servers, alternating in blocks of 50 calls so that
 * changes in machine load land on both alike. `fresh` dials a new connection per call, as
 * the kubelet's probe does.
 */
async function checkLatency(
  ports: [number, number],
  n: number,
  fresh: boolean,
): Promise<[number[], number[]]> {
  const out: [number[], number[]] = [[], []];
  const clients = ports.map((p) => new HealthClient(`127.0.0.1:${p}`));
  for (const c of clients) await c.check('', 2000);
  for (let block = 0; block < n / 50; block++) {
    for (const side of [0, 1] as const) {
      for (let i = 0; i < 50; i++) {
        if (fresh) {
          clients[side]?.close();
          clients[side] = new HealthClient(`127.0.0.1:${ports[side]}`);
        }
        const t0 = performance.now();
        await clients[side]?.check('', 2000);
        out[side].push(performance.now() - t0);
      }
    }
  }
  for (const c of clients) c.close();
  return out;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function steady(t: Target): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = await t.start(port);
  const c = new HealthClient(`127.0.0.1:${port}`, undefined, FAST);
  while (!(await c.isServing('', 50))) await new Promise((r) => setTimeout(r, 5));
  c.close();
  return { port, child };
}

/** Cancel RPC → runtime exited (Watch shows tearing-down) → sidecar process exited. */
async function cancelToExit(): Promise<{ runtime: number; sidecar: number }> {
  const { port, child } = await steady(sidecarWithSdkRuntime);
  const lc = lifecycleClient(`127.0.0.1:${port}`);
  const watch = lc.watch({});
  const runtimeGone = new Promise<number>((res) =>
    watch.on('data', (s: RuntimeStatus) =>
      s.phase === 'PHASE_TEARING_DOWN' || s.phase === 'PHASE_EXITED' ? res(performance.now()) : undefined,
    ),
  );
  watch.on('error', () => undefined);
  await new Promise((r) => setTimeout(r, 20));
  const exited = new Promise<number>((res) => child.once('exit', () => res(performance.now())));
  const t0 = performance.now();
  lc.cancel({ reason: 'bench' }, { deadline: Date.now() + 2000 }, () => undefined);
  const [r, s] = await Promise.all([runtimeGone, exited]);
  lc.close();
  return { runtime: r - t0, sidecar: s - t0 };
}

async function bareSigtermToExit(): Promise<number> {
  const { child } = await steady(bare);
  const exited = new Promise<number>((res) => child.once('exit', () => res(performance.now())));
  const t0 = performance.now();
  child.kill('SIGTERM');
  return (await exited) - t0;
}

async function series(n: number, f: () => Promise<number>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await f());
  return out;
}

async function main(): Promise<void> {
  process.stdout.write(
    `sidecar benchmark: ${RUNS} runs each, Node ${process.version}, ` +
      `grpc-js ${(grpc as unknown as { version?: string }).version ?? ''}\n`,
  );
  // Interleave so that drift in machine load hits both sides alike.
  const spawnBare: number[] = [];
  const spawnOurs: number[] = [];
  const spawnSdk: number[] = [];
  const spawnCold: number[] = [];
  const spawnBareCached: number[] = [];
  const spawnOursNoCache: number[] = [];
  // One untimed start each fills the two caches, as the image's build fills the sidecar's.
  await timeToServing(bareCached);
  await timeToServing(sidecar);
  for (let i = 0; i < RUNS; i++) {
    spawnBare.push(await timeToServing(bare));
    spawnBareCached.push(await timeToServing(bareCached));
    spawnOurs.push(await timeToServing(sidecar));
    spawnOursNoCache.push(await timeToServing(sidecarNoCache));
    spawnSdk.push(await timeToServing(sidecarWithSdkRuntime));
    spawnCold.push(await timeToServing(sidecarColdCache));
  }
  for (const d of coldCaches) rmSync(d, { recursive: true, force: true });
  const b = await steady(bare);
  const s = await steady(sidecar);
  await new Promise((r) => setTimeout(r, 1000));
  const [rssBare, rssOurs] = [rssMiB(b.child.pid as number), rssMiB(s.child.pid as number)];
  const [reusedBare, reusedOurs] = await checkLatency([b.port, s.port], 5000, false);
  const [freshBare, freshOurs] = await checkLatency([b.port, s.port], 1000, true);
  await stop(b.child);
  await stop(s.child);
  const cancelRuns: Array<{ runtime: number; sidecar: number }> = [];
  for (let i = 0; i < RUNS; i++) cancelRuns.push(await cancelToExit());
  const bareExit = await series(RUNS, bareSigtermToExit);

  const rows: Row[] = [
    {
      what: 'spawn → first SERVING p50, both with a compile cache',
      baseline: percentile(spawnBareCached, 50),
      ours: percentile(spawnOurs, 50),
      unit: 'ms',
      target: '≤ 1.1× bare',
    },
    {
      what: 'spawn → first SERVING p99, both with a compile cache',
      baseline: percentile(spawnBareCached, 99),
      ours: percentile(spawnOurs, 99),
      unit: 'ms',
      target: '≤ 1.1× bare',
    },
    {
      what: 'spawn → first SERVING p50, neither with a cache',
      baseline: percentile(spawnBare, 50),
      ours: percentile(spawnOursNoCache, 50),
      unit: 'ms',
      target: '(informational: both compile everything)',
    },
    {
      what: 'spawn → first SERVING p50, bare without, sidecar with a cache',
      baseline: percentile(spawnBare, 50),
      ours: percentile(spawnOurs, 50),
      unit: 'ms',
      target: '(informational: the headline until now, not like for like)',
    },
    {
      what: 'spawn → SERVING, empty compile cache p50',
      baseline: percentile(spawnBare, 50),
      ours: percentile(spawnCold, 50),
      unit: 'ms',
      target: '(informational: a pod before the image cache)',
    },
    {
      what: 'spawn → SERVING, with SDK runtime p50',
      baseline: percentile(spawnBare, 50),
      ours: percentile(spawnSdk, 50),
      unit: 'ms',
      target: '(informational)',
    },
    {
      what: 'Check, reused connection p50',
      baseline: percentile(reusedBare, 50),
      ours: percentile(reusedOurs, 50),
      unit: 'ms',
    },
    {
      what: 'Check, reused connection p99',
      baseline: percentile(reusedBare, 99),
      ours: percentile(reusedOurs, 99),
      unit: 'ms',
      target: '≤ 1.2× bare',
    },
    {
      what: 'Check, new connection p50',
      baseline: percentile(freshBare, 50),
      ours: percentile(freshOurs, 50),
      unit: 'ms',
    },
    {
      what: 'Check, new connection p99',
      baseline: percentile(freshBare, 99),
      ours: percentile(freshOurs, 99),
      unit: 'ms',
      target: '≤ 1.2× bare',
    },
    {
      what: 'Cancel → SDK runtime exited p50',
      baseline: NaN,
      ours: percentile(
        cancelRuns.map((c) => c.runtime),
        50,
      ),
      unit: 'ms',
    },
    {
      what: 'Cancel → SDK runtime exited p99',
      baseline: NaN,
      ours: percentile(
        cancelRuns.map((c) => c.runtime),
        99,
      ),
      unit: 'ms',
    },
    {
      what: 'stop → process exited p50 (bare: SIGTERM)',
      baseline: percentile(bareExit, 50),
      ours: percentile(
        cancelRuns.map((c) => c.sidecar),
        50,
      ),
      unit: 'ms',
      target: '≤ 50 ms',
    },
    {
      what: 'stop → process exited p99',
      baseline: percentile(bareExit, 99),
      ours: percentile(
        cancelRuns.map((c) => c.sidecar),
        99,
      ),
      unit: 'ms',
    },
    {
      what: 'idle RSS (sidecar alone, not its runtime)',
      baseline: rssBare,
      ours: rssOurs,
      unit: 'MiB',
      target: '≤ 1.3× bare',
    },
  ];
  printTable('pea-runtime sidecar vs bare grpc-js health server', rows);
}

await main();

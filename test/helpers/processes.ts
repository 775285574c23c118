// Real processes for the sidecar tests: the built CLI (dist/, from `make build`) and the
// example runtimes, on free loopback ports, with their output kept for assertions.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from test/helpers (jest) or dist/test/helpers (benchmarks). */
export const ROOT = ((): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dir !== '/') dir = resolve(dir, '..');
  return dir;
})();
export const CLI = join(ROOT, 'dist/src/runtime/main.js');
export const example = (name: string): string => join(ROOT, 'dist/examples', `${name}.js`);

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`make build\` (make test does) before jest`);

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

const tempDirs: string[] = [];

/** A fresh directory, removed by killAll() at the end of the test. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'peapods-test-'));
  tempDirs.push(dir);
  return dir;
}

export interface Proc {
  child: ChildProcess;
  output(): string;
  /** Resolves the exit code (128+n for a signal), as a shell would report it. */
  exited: Promise<number>;
  /** Parsed pino lines from stdout. */
  logLines(): Array<Record<string, unknown>>;
}

export function start(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number>((res) =>
    child.once('close', (code, signal) =>
      res(code ?? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : 1)),
    ),
  );
  running.add(child);
  void exited.then(() => running.delete(child));
  return {
    child,
    exited,
    output: () => out,
    logLines: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const running = new Set<ChildProcess>();

/** Kills whatever a test left running, so a failed test cannot hang the suite. */
export function killAll(): void {
  killTree(...[...running].flatMap((c) => (c.pid ? [c.pid] : [])));
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/**
 * SIGKILLs each of `pids` and everything below them. The sidecar starts its runtime in a
 * session of its own, so killing the sidecar alone orphans the runtime, and an orphan still
 * holding the pipes jest reads keeps jest from exiting. The tree is read (once) before
 * anything is killed: once a parent is gone, its children belong to init.
 */
export function killTree(...pids: number[]): void {
  const tree = childrenByParent();
  for (const p of pids.flatMap((pid) => [pid, ...below(pid, tree)])) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Every process below `pid` now (Linux). */
export function descendants(pid: number): number[] {
  return below(pid, childrenByParent());
}

function below(pid: number, tree: Map<number, number[]>): number[] {
  return (tree.get(pid) ?? []).flatMap((c) => [c, ...below(c, tree)]);
}

/** Parent PID → child PIDs, from each /proc/PID/stat's parent field. */
function childrenByParent(): Map<number, number[]> {
  const tree = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses, so split after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    tree.set(ppid, [...(tree.get(ppid) ?? []), Number(name)]);
  }
  return tree;
}

export function readEvents(file: string): Array<{ event: string; [k: string]: unknown }> {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (l.startsWith('{') ? JSON.parse(l) : { event: l.trim() }));
}

/** Polls `fn` until it returns a truthy value; fails with `what` after `ms`. */
export async function until<T>(what: string, fn: () => T | Promise<T>, ms = 10000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// The runtime the sidecar supervises: either its own child (local runs, single-container
// pods) or the pod's other container, found in the shared PID namespace. Both look the same
// to the supervisor: a pid, a way to signal it, and a promise of how it ended.
import { spawn } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { constants } from 'node:os';

/** How the runtime process ended. */
export interface RuntimeExit {
  /** Null when the process was killed by a signal, or is not our child (attach mode). */
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The runtime, as the sidecar supervises it: a child, or a process found in the pod (attach mode). */
export interface RuntimeProcess {
  readonly pid: number;
  /** Sends a signal; false when the process is already gone. */
  signal(sig: NodeJS.Signals): boolean;
  readonly exited: Promise<RuntimeExit>;
}

/** The runtime's command does not exist or cannot be executed: it failed to start, it did not crash. */
export class RuntimeNotFoundError extends Error {}

/**
 * Starts `command` as a child. It gets its own process group so that a terminal's Ctrl-C
 * reaches only the sidecar, which then cancels the runtime in the documented order.
 */
export function spawnRuntime(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<RuntimeProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'inherit', detached: true, env });
    const exited = new Promise<RuntimeExit>((res) =>
      child.once('exit', (code, signal) => res({ code, signal })),
    );
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (child.pid !== undefined) return; // errors after a successful spawn surface as 'exit'
      const what =
        err.code === 'ENOENT'
          ? 'was not found'
          : err.code === 'EACCES'
            ? 'is not executable'
            : `could not start (${err.message})`;
      reject(
        new RuntimeNotFoundError(
          `runtime command "${command}" ${what}: check the command and the image's PATH`,
        ),
      );
    });
    child.once('spawn', () =>
      resolve({
        pid: child.pid as number,
        signal: (sig) => child.exitCode === null && child.signalCode === null && child.kill(sig),
        exited,
      }),
    );
  });
}

/** How to find the pod's runtime container's process in the shared PID namespace. */
export interface AttachOptions {
  /** `NAME=VALUE` that only the runtime container's processes have in their environment. */
  env: string;
  pollMs: number;
  /** Stops looking (resolves null) when aborted, e.g. cancelled before the runtime started. */
  signal: AbortSignal;
}

/**
 * Waits for the runtime in the pod's shared PID namespace. Its children inherit the marker,
 * so the topmost matching process (whose parent does not match) is the container's main one.
 */
export async function attachRuntime(opts: AttachOptions): Promise<RuntimeProcess | null> {
  while (!opts.signal.aborted) {
    const found = await findByEnv(opts.env);
    if (found) return watchForeign(found.pid, found.startTime, opts.pollMs);
    await sleep(opts.pollMs, opts.signal);
  }
  return null;
}

interface ProcInfo {
  pid: number;
  ppid: number;
  startTime: string;
  state: string;
}

async function findByEnv(marker: string): Promise<ProcInfo | undefined> {
  const matches: ProcInfo[] = [];
  for (const name of await readdir('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const environ = await readFile(`/proc/${pid}/environ`, 'latin1').catch(() => '');
    if (!environ.split('\0').includes(marker)) continue;
    const info = await procStat(pid);
    if (info && info.state !== 'Z') matches.push(info);
  }
  const pids = new Set(matches.map((m) => m.pid));
  return matches.filter((m) => !pids.has(m.ppid)).sort((a, b) => a.pid - b.pid)[0];
}

/** /proc/PID/stat; the command name may hold spaces and parens, so split after the last ')'. */
async function procStat(pid: number): Promise<ProcInfo | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'latin1').catch(() => undefined);
  if (!text) return undefined;
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pid, state: fields[0] ?? '?', ppid: Number(fields[1]), startTime: fields[19] ?? '' };
}

/** Not our child, so no exit event: poll /proc, and compare start times to survive pid reuse. */
function watchForeign(pid: number, startTime: string, pollMs: number): RuntimeProcess {
  const alive = async (): Promise<boolean> => {
    const info = await procStat(pid);
    return info !== undefined && info.startTime === startTime && info.state !== 'Z';
  };
  let gone = false;
  const exited = (async (): Promise<RuntimeExit> => {
    while (await alive()) await sleep(pollMs);
    gone = true;
    return { code: null, signal: null };
  })();
  return {
    pid,
    exited,
    signal: (sig) => {
      if (gone) return false;
      try {
        process.kill(pid, constants.signals[sig]);
        return true;
      } catch {
        return false;
      }
    },
  };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}

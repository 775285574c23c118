// The sidecar-level teardown step: an optional command run once after the runtime exited
// (the runtime's own teardown has already run inside it), e.g. to flush a shared volume.
import { spawn } from 'node:child_process';

/** How the teardown step went, in words for the termination message. */
export interface TeardownResult {
  ok: boolean;
  message: string;
}

/**
 * Parses `--teardown` like a Dockerfile CMD: a JSON array of strings runs as is (exec form);
 * anything else runs with `/bin/sh -c` (shell form).
 */
export function parseTeardownCommand(text: string): string[] {
  if (text.trim().startsWith('[')) {
    const parsed: unknown = JSON.parse(text);
    if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((p) => typeof p === 'string')) {
      throw new Error(
        'a JSON teardown command must be a non-empty array of strings, e.g. ["sync", "-f", "/data"]',
      );
    }
    return parsed;
  }
  if (!text.trim()) throw new Error('the teardown command is empty');
  return ['/bin/sh', '-c', text];
}

/** Runs `argv` once; kills it when `budgetMs` runs out so that preStop returns in time. */
export function runTeardownCommand(argv: string[], budgetMs: number): Promise<TeardownResult> {
  return new Promise((resolve) => {
    const [cmd, ...args] = argv as [string, ...string[]];
    const child = spawn(cmd, args, { stdio: 'inherit' });
    const timer = setTimeout(() => child.kill('SIGKILL'), budgetMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ ok: false, message: `teardown command "${cmd}" could not start: ${err.message}` });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ ok: true, message: 'teardown command finished' });
      else if (signal === 'SIGKILL')
        resolve({
          ok: false,
          message:
            `teardown command ran out of its ${Math.round(budgetMs / 1000)}s budget and was killed: ` +
            'raise --teardown-timeout',
        });
      else resolve({ ok: false, message: `teardown command exited with ${code ?? signal}` });
    });
  });
}

/** The teardown step without a --teardown command: nothing to do. */
export const noTeardown = async (): Promise<TeardownResult> => ({ ok: true, message: 'no teardown command' });

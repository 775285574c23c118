// A safety net for `make test` and `make chaos`: every process a test starts inherits a
// marker, and at the end of the run any that is still alive is killed and named.
// Why: a stray (say a runtime orphaned by a SIGKILLed sidecar) that still holds a pipe jest
// reads keeps jest from exiting, and the run hangs after "Tests: N passed" until CI's limit.
// The tests clean up after themselves (killTree in test/helpers/processes.ts); this only
// catches what they miss, and says so loudly so the leak gets fixed.
import { readdirSync, readFileSync } from 'node:fs';

const MARKER = 'PEAPODS_TEST_RUN';

export function markRun() {
  process.env[MARKER] = `${process.pid}-${Date.now()}`;
}

export function killStrays() {
  const mark = `${MARKER}=${process.env[MARKER]}`;
  if (!process.env[MARKER]) return;
  const killed = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let env, cmd;
    try {
      env = readFileSync(`/proc/${name}/environ`, 'utf8').split('\0');
      cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
    } catch {
      continue; // exited, or not ours to read
    }
    // jest's own workers carry the marker too; jest ends them itself.
    if (!env.includes(mark) || cmd.includes('jest-worker')) continue;
    try {
      process.kill(Number(name), 'SIGKILL');
      killed.push(`${name} ${cmd.slice(0, 160)}`);
    } catch {
      // gone meanwhile
    }
  }
  if (killed.length) {
    process.stderr.write(
      `\nstray processes left by the tests, killed so jest can exit (a test is missing its clean-up):\n` +
        `  ${killed.join('\n  ')}\n`,
    );
  }
}

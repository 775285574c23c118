// The sibling-container mode: the runtime is not the sidecar's child but another process in
// a shared PID namespace, as in a pod with shareProcessNamespace. `unshare` makes a real new
// PID namespace (with its own /proc) in which a shell plays the pod's pause process.
import { afterEach, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { CLI, example, freePort, killAll, readEvents, start, tempDir, until } from '../helpers/processes.js';
import { attachClients, type SidecarUnderTest } from '../helpers/sidecar.js';
import { startedGate } from '../../src/shared/started-gate.js';
import { join } from 'node:path';

let sc: SidecarUnderTest | undefined;
afterEach(async () => {
  await sc?.close();
  killAll();
});

if (process.getuid?.() !== 0) {
  throw new Error('the attach-mode tests need root for `unshare --pid` (CI runs as root); run them as root');
}

async function podLike(
  runtimeFlags: string[],
  sidecarFlags: string[] = [],
  runtimeDelaySeconds = 2,
): Promise<SidecarUnderTest & { pidNamespace: () => string }> {
  const [grpcPort, httpPort, healthPort] = [await freePort(), await freePort(), await freePort()];
  const dir = tempDir();
  const eventsFile = join(dir, 'events.jsonl');
  const terminationLog = join(dir, 'termination-log');
  const startedFile = join(dir, 'started');
  const q = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;
  const sidecar = [
    process.execPath,
    CLI,
    'sidecar',
    '--attach-env',
    'PEAPODS_RUNTIME=1',
    '--host',
    '127.0.0.1',
    '--grpc-port',
    String(grpcPort),
    '--http-port',
    String(httpPort),
    '--ready',
    `grpc://127.0.0.1:${healthPort}`,
    '--termination-log',
    terminationLog,
    '--started-file',
    startedFile,
    ...sidecarFlags,
  ]
    .map(q)
    .join(' ');
  const runtime = [
    process.execPath,
    example('faulty'),
    ...runtimeFlags.map((f) => f.replace('{grpc}', String(grpcPort))),
  ]
    .map(q)
    .join(' ');
  // As in a pod: the sidecar (a native sidecar) starts first and the runtime container only
  // once the sidecar takes calls (the pod's own postStart gate), then after a delay, so that
  // the test sees the sidecar without a runtime whatever the machine's speed; the marker only
  // in the runtime's environment; the shell reaps like pause does.
  const gate = startedGate(startedFile, 60).map(q).join(' ');
  const script = `${sidecar} & ${gate} && sleep ${runtimeDelaySeconds}; PEAPODS_RUNTIME=1 ${runtime} & wait`;
  const proc = start(
    'unshare',
    ['--pid', '--fork', '--kill-child', '--mount-proc', '/bin/sh', '-c', script],
    { PEA_HEALTH_PORT: String(healthPort), PEA_EVENTS_FILE: eventsFile },
  );
  const s = attachClients(proc, { grpcPort, httpPort, healthPort, dir, eventsFile, terminationLog });
  return {
    ...s,
    pidNamespace: () => execFileSync('readlink', [`/proc/${proc.child.pid}/ns/pid`]).toString(),
  };
}

describe('attach mode (--attach-env) in a separate PID namespace', () => {
  it('finds the runtime started after it, reports ready, and cancels it in order', async () => {
    const s = await podLike(['--report-health', '{grpc}']);
    sc = s;
    const early = await until('the sidecar to answer', () => s.status());
    expect(early.phase).toBe('PHASE_STARTING');
    await until('SERVING', () => s.health.isServing('', 500));
    const ready = await s.status();
    expect(ready.pid).toBeGreaterThan(1); // a pid inside the new namespace
    await s.cancel('Pea deleted');
    const final = await until('exited', async () => {
      const st = await s.status();
      return st.phase === 'PHASE_EXITED' ? st : undefined;
    });
    // A sibling's exit code is not visible from here; the operator reads the container status.
    expect(final.reason).toBe('Cancelled');
    expect(final.exitCode ?? null).toBeNull();
    const events = readEvents(s.eventsFile);
    expect(events.map((e) => e.event)).toEqual(['init', 'ready', 'cancel-saw-health', 'cancel', 'teardown']);
    expect(events[2]?.status).toBe('NOT_SERVING');
    // The sidecar outlives the runtime, as a native sidecar does, until it gets SIGTERM.
    expect(s.child.exitCode).toBeNull();
  });

  it('a preStop before the runtime even started ends cleanly', async () => {
    const s = await podLike([], [], 60);
    sc = s;
    await until('the sidecar to answer', () => s.status());
    const res = await s.http('/prestop');
    expect(res.code).toBe(200);
    expect(res.body).toMatchObject({ done: true, status: { phase: 'PHASE_EXITED', reason: 'Cancelled' } });
    // Written at the end of the lifecycle, though the sidecar itself waits for SIGTERM.
    expect(readFileSync(s.terminationLog, 'utf8')).toBe('Cancelled: cancelled (preStop hook)');
  });

  it('a runtime that ignores SIGTERM is killed across the namespace', async () => {
    const s = await podLike(['--ignore-cancel'], ['--cancel-timeout', '0.5']);
    sc = s;
    await until('SERVING', () => s.health.isServing('', 500));
    await s.cancel();
    const final = await until('exited', async () => {
      const st = await s.status();
      return st.phase === 'PHASE_EXITED' ? st : undefined;
    });
    expect(final.reason).toBe('CancelTimeout');
    expect(readEvents(s.eventsFile).map((e) => e.event)).toEqual(['init', 'ready', 'cancel']);
  });
});

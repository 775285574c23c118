// Starts `pea-runtime sidecar` for a test and gives it typed gRPC and HTTP handles.
import { HealthClient } from '../../src/shared/health-client.js';
import {
  lifecycleClient,
  type CancelResponse,
  type LifecycleClient,
  type RuntimeStatus,
} from '../../src/shared/lifecycle-proto.js';
import { bearerInterceptor } from '../../src/shared/bearer.js';
import { CLI, freePort, killTree, start, tempDir, type Proc } from './processes.js';
import { lstatSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface SidecarUnderTest extends Proc {
  grpcPort: number;
  httpPort: number;
  healthPort: number;
  dir: string;
  eventsFile: string;
  terminationLog: string;
  health: HealthClient;
  /** Sends the current token, if the sidecar has one (see SidecarArgs.token). */
  lifecycle: LifecycleClient;
  /** The sidecar's --token-file, in a Secret volume layout; undefined without a token. */
  tokenFile?: string;
  /** Rotates the Secret as the kubelet does (a `..data` symlink swap); null removes the key. */
  rotateToken(token: string | null): void;
  status(): Promise<RuntimeStatus>;
  cancel(reason?: string): Promise<CancelResponse>;
  http(path: string, method?: string): Promise<{ code: number; body: Record<string, unknown> }>;
  /** Kills the sidecar and its runtime: a SIGKILLed sidecar cannot take its child along. */
  close(): Promise<void>;
}

export interface SidecarArgs {
  /** Sidecar flags before `--`. `{health}`, `{grpc}` and `{dir}` become the runtime's health
   * port, the sidecar's gRPC port and the test's temp dir. */
  flags?: string[];
  /** The runtime command after `--` (child mode). `{health}` likewise. */
  runtime?: string[];
  env?: NodeJS.ProcessEnv;
  /** A fixed gRPC port (e.g. the one the operator under test dials); free port otherwise. */
  grpcPort?: number;
  /** Gives the sidecar --token-file with this token, mounted as the kubelet mounts a Secret. */
  token?: string;
}

export async function startSidecar(a: SidecarArgs): Promise<SidecarUnderTest> {
  const [grpcPort, httpPort, healthPort] = [
    a.grpcPort ?? (await freePort()),
    await freePort(),
    await freePort(),
  ];
  const dir = tempDir();
  const eventsFile = join(dir, 'events.jsonl');
  const terminationLog = join(dir, 'termination-log');
  const fill = (s: string): string =>
    s
      .replaceAll('{health}', String(healthPort))
      .replaceAll('{grpc}', String(grpcPort))
      .replaceAll('{dir}', dir);
  const secret = a.token === undefined ? undefined : join(dir, 'secret');
  if (secret) writeSecretVolume(secret, { token: a.token as string });
  const args = [
    CLI,
    'sidecar',
    '--grpc-port',
    String(grpcPort),
    '--http-port',
    String(httpPort),
    '--host',
    '127.0.0.1',
    '--termination-log',
    terminationLog,
    ...(secret ? ['--token-file', join(secret, 'token')] : []),
    ...(a.flags ?? []).map(fill),
    ...(a.runtime ? ['--', ...a.runtime.map(fill)] : []),
  ];
  const proc = start(process.execPath, args, {
    PEA_HEALTH_PORT: String(healthPort),
    PEA_EVENTS_FILE: eventsFile,
    ...a.env,
  });
  return attachClients(proc, {
    grpcPort,
    httpPort,
    healthPort,
    dir,
    eventsFile,
    terminationLog,
    secret,
    token: a.token,
  });
}

/**
 * Writes `files` as the kubelet's AtomicWriter lays out a Secret volume: the data in a
 * fresh `..<timestamp>` directory, `..data` a symlink to it replaced by rename(2), and each
 * key a symlink through `..data`. A key left out dangles, as after a Secret loses it.
 */
export function writeSecretVolume(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  const old = readdirSync(dir).filter((n) => n.startsWith('..') && n !== '..data');
  const version = `..${new Date().toISOString().replaceAll(':', '_')}.${process.hrtime.bigint()}`;
  mkdirSync(join(dir, version));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, version, name), content);
  symlinkSync(version, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  for (const name of Object.keys(files))
    if (!lstatSync(join(dir, name), { throwIfNoEntry: false }))
      symlinkSync(join('..data', name), join(dir, name));
  for (const o of old) rmSync(join(dir, o), { recursive: true, force: true });
}

export function attachClients(
  proc: Proc,
  p: {
    grpcPort: number;
    httpPort: number;
    healthPort: number;
    dir: string;
    eventsFile: string;
    terminationLog: string;
    secret?: string;
    token?: string;
  },
): SidecarUnderTest {
  const { secret, token: firstToken, ...ports } = p;
  let token = firstToken;
  const health = new HealthClient(`127.0.0.1:${p.grpcPort}`, undefined, {
    'grpc.initial_reconnect_backoff_ms': 50,
    'grpc.max_reconnect_backoff_ms': 200,
  });
  const lifecycle = lifecycleClient(`127.0.0.1:${p.grpcPort}`, {
    'grpc.initial_reconnect_backoff_ms': 50,
    'grpc.max_reconnect_backoff_ms': 200,
    ...(firstToken === undefined ? {} : { interceptors: [bearerInterceptor(() => token as string)] }),
  });
  const deadline = (): { deadline: number } => ({ deadline: Date.now() + 5000 });
  return {
    ...proc,
    ...ports,
    health,
    lifecycle,
    tokenFile: secret && join(secret, 'token'),
    rotateToken: (next) => {
      if (!secret) throw new Error('this sidecar was started without a token');
      writeSecretVolume(secret, next === null ? {} : { token: next });
      if (next !== null) token = next;
    },
    status: () =>
      new Promise((res, rej) =>
        lifecycle.status({}, deadline(), (e, r) => (e ? rej(e) : res(r as RuntimeStatus))),
      ),
    cancel: (reason = 'test') =>
      new Promise((res, rej) =>
        lifecycle.cancel({ reason }, deadline(), (e, r) => (e ? rej(e) : res(r as CancelResponse))),
      ),
    http: async (path, method = 'GET') => {
      const res = await fetch(`http://127.0.0.1:${p.httpPort}${path}`, { method });
      return { code: res.status, body: (await res.json()) as Record<string, unknown> };
    },
    close: async () => {
      health.close();
      lifecycle.close();
      if (proc.child.pid) killTree(proc.child.pid);
    },
  };
}

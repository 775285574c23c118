// What the end-to-end suite does to a cluster, through the tools a user has: kubectl and helm.
// Driven only by the environment, so the same lines run on the local cluster and on kind:
//   KUBECONFIG      the cluster (required)
//   KUBECTL, HELM   the binaries (default: on PATH; hack/e2e.sh passes the pinned ones)
//   PEAPODS_IMAGE   the image of the operator, the sidecar and the example runtimes
import { expect } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const IMAGE = process.env.PEAPODS_IMAGE ?? 'peapods/peapods:dev';
export const OPERATOR_NAMESPACE = 'peapods-system';
export const RELEASE = 'peapods';
/** Every Pea of the suite lives here; deleting it at the end cleans up what a test left. */
export const NAMESPACE = 'peapods-e2e';
/** A host directory every Pea pod of the suite mounts, so a runtime's trace outlives its pod. */
export const EVENTS_HOST_DIR = '/var/lib/peapods-e2e';

function env(): NodeJS.ProcessEnv {
  if (!process.env.KUBECONFIG)
    throw new Error('the e2e suite needs KUBECONFIG: run it through `make e2e`, which brings a cluster up');
  return process.env;
}

async function tool(bin: string, args: string[], input?: string): Promise<string> {
  const child = run(bin, args, { env: env(), maxBuffer: 64 << 20 });
  if (input !== undefined) {
    child.child.stdin?.end(input);
  }
  try {
    return (await child).stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${bin} ${args.join(' ')} failed: ${err.stderr?.trim() || err.message}`);
  }
}

export const kubectl = (args: string[], input?: string): Promise<string> =>
  tool(process.env.KUBECTL ?? 'kubectl', args, input);
export const helm = (args: string[]): Promise<string> => tool(process.env.HELM ?? 'helm', args);

export async function apply(manifest: object, namespace = NAMESPACE): Promise<void> {
  await kubectl(['apply', '-n', namespace, '-f', '-'], JSON.stringify(manifest));
}

export async function getJson<T = Record<string, unknown>>(
  kind: string,
  name: string,
  namespace = NAMESPACE,
): Promise<T | undefined> {
  try {
    return JSON.parse(await kubectl(['get', '-n', namespace, kind, name, '-o', 'json'])) as T;
  } catch (e) {
    if (/NotFound|not found/.test((e as Error).message)) return undefined;
    throw e;
  }
}

export async function list<T = Record<string, unknown>>(
  kind: string,
  selector: string,
  namespace = NAMESPACE,
): Promise<T[]> {
  const out = JSON.parse(await kubectl(['get', '-n', namespace, kind, '-l', selector, '-o', 'json'])) as {
    items: T[];
  };
  return out.items;
}

/** Polls until `probe` returns a value other than undefined; the error names what was awaited. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `; last error: ${String(last)}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface PeaStatus {
  phase?: string;
  reason?: string;
  message?: string;
  podName?: string;
  exitCode?: number;
  conditions?: { type: string; status: string; reason: string; message: string }[];
  readyTime?: string;
  finishTime?: string;
}
export interface PeaObject {
  metadata: { name: string; uid: string; finalizers?: string[]; deletionTimestamp?: string };
  status?: PeaStatus;
}

export const peaStatus = async (name: string, namespace = NAMESPACE): Promise<PeaStatus | undefined> =>
  (await getJson<PeaObject>('pea', name, namespace))?.status;

export async function waitForPhase(
  name: string,
  phases: string[],
  timeoutMs: number,
  namespace = NAMESPACE,
): Promise<PeaStatus> {
  return waitFor(
    `pea/${name} in phase ${phases.join(' or ')}`,
    async () => {
      const s = await peaStatus(name, namespace);
      return s?.phase && phases.includes(s.phase) ? s : undefined;
    },
    timeoutMs,
  );
}

export async function waitForGone(kind: string, name: string, timeoutMs: number): Promise<void> {
  await waitFor(
    `${kind}/${name} to be gone`,
    async () => ((await getJson(kind, name)) ? undefined : true),
    timeoutMs,
  );
}

/** The pods the operator made for a Pea, found by the label the pod builder sets. */
export const podsOf = (pea: string): Promise<{ metadata: { name: string; deletionTimestamp?: string } }[]> =>
  list('pods', `peapods.io/pea=${pea}`);

/** One JSON line per step the example runtime took (examples/events.ts), read through the recorder pod. */
export async function runtimeEvents(pea: string): Promise<{ event: string; status?: string; t: number }[]> {
  const out = await kubectl([
    'exec',
    '-n',
    NAMESPACE,
    'recorder',
    '--',
    'node',
    '-e',
    `const f='/events/${pea}.jsonl';` +
      `process.stdout.write(require('fs').existsSync(f)?require('fs').readFileSync(f,'utf8'):'')`,
  ]);
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { event: string; t: number });
}

export interface PeaOptions {
  args?: string[];
  ready?: object;
  timeouts?: { readySeconds?: number; cancelSeconds?: number; teardownSeconds?: number };
  example?: string;
}

/**
 * A Pea running one of the example runtimes of the image, with its trace on the shared host
 * directory. The runtime's own health port is what the sidecar polls (`ready.grpc`).
 */
export function pea(name: string, o: PeaOptions = {}): object {
  return {
    apiVersion: 'peapods.io/v1alpha1',
    kind: 'Pea',
    metadata: { name },
    spec: {
      image: IMAGE,
      command: ['node', `/app/dist/examples/${o.example ?? 'faulty'}.js`, ...(o.args ?? [])],
      env: [
        { name: 'PEA_HEALTH_PORT', value: '50061' },
        { name: 'PEA_EVENTS_FILE', value: `/events/${name}.jsonl` },
      ],
      ready: o.ready ?? { grpc: { port: 50061 } },
      timeouts: { readySeconds: 60, cancelSeconds: 10, teardownSeconds: 15, ...o.timeouts },
      volumeMounts: [{ name: 'events', mountPath: '/events' }],
      // On the recorder's node: the trace directory is that node's (one of several on kind).
      pod: {
        volumes: [{ name: 'events', hostPath: { path: EVENTS_HOST_DIR, type: 'Directory' } }],
        affinity: WITH_RECORDER,
      },
    },
  };
}

/** Schedules a pod onto the node of the recorder pod (test/e2e/global-setup.mjs), whose label this is. */
export const WITH_RECORDER = {
  podAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution: [
      {
        labelSelector: { matchLabels: { 'peapods.io/e2e': 'recorder' } },
        topologyKey: 'kubernetes.io/hostname',
      },
    ],
  },
};

export const condition = (s: PeaStatus | undefined, type: string) =>
  s?.conditions?.find((c) => c.type === type);

/** The trace of a runtime that was cancelled cleanly: drained first, then cancel, teardown once. */
export async function expectCleanCancel(name: string): Promise<void> {
  const events = await waitFor(
    `pea/${name}'s teardown in its trace`,
    async () => {
      const e = await runtimeEvents(name);
      return e.some((x) => x.event === 'teardown') ? e : undefined;
    },
    60_000,
  );
  expect(events.map((e) => e.event)).toEqual(['init', 'ready', 'cancel-saw-health', 'cancel', 'teardown']);
  expect(events.find((e) => e.event === 'cancel-saw-health')?.status).toBe('NOT_SERVING');
}

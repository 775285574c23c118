// Helpers for the fault-injection suite (test/chaos, `make chaos`): a seeded PRNG, a TCP
// proxy whose connections can be cut, a recorder that sees every Pea and pod change through
// watches from a known resourceVersion (so nothing is sampled), the kubelet's part with a pod
// IP of the test's choosing, and one Pea lifecycle driven end to end against a real sidecar.
import * as k8s from '@kubernetes/client-node';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { GROUP, PLURAL, VERSION, type Pea, type PeaSpec } from '../../src/api/v1alpha1/types.js';
import { CLI, killTree, start, tempDir, type Proc } from '../helpers/processes.js';
import { writeSecretVolume } from '../helpers/sidecar.js';
import type { ApiServer } from './apiserver.js';
import { OPERATOR } from './cluster.js';

const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Prints a line to the terminal past jest's console capture (figures belong in the output). */
export function report(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** mulberry32: small, fast and good enough to make a run reproducible from its seed. */
export class Rng {
  private s: number;
  constructor(readonly seed: number) {
    this.s = seed >>> 0;
  }

  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  between(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** CHAOS_SEED reproduces a run; otherwise a fresh seed. Either way the caller prints it. */
export function chaosSeed(): number {
  const env = process.env.CHAOS_SEED;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n))
      throw new Error(`CHAOS_SEED must be a whole number, not ${JSON.stringify(env)}`);
    return n >>> 0;
  }
  return (Date.now() ^ (process.pid << 16)) >>> 0;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

export const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/**
 * A TCP proxy in front of the API server: the operator talks through it, and cut() resets
 * every open connection (its watches and pooled keep-alive sockets) while the API server
 * stays up, as a load balancer or a network blip would.
 */
export class CuttableProxy {
  private readonly sockets = new Set<Socket>();
  /** The operator's side of each connection: what cut() counts. */
  private readonly clients = new Set<Socket>();
  private server: Server | undefined;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      this.clients.add(client);
      client.on('close', () => this.clients.delete(client));
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.on('data', (chunk: Buffer) => {
        if (this.holding) this.held += chunk.length;
        else upstream.write(chunk);
      });
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  private holding = false;
  /** Bytes the operator sent that hold() kept from the API server. */
  held = 0;

  /**
   * From now on nothing the operator sends reaches the API server (its writes hang as if
   * the network ate them), while what the API server sends, watch events included, still
   * arrives. Ended by cut(), which drops what was held.
   */
  hold(): void {
    this.holding = true;
  }

  /** Resets every connection open now (and ends a hold); returns how many were cut. */
  cut(): number {
    const n = this.clients.size;
    for (const s of this.sockets) s.resetAndDestroy();
    this.sockets.clear();
    this.clients.clear();
    this.holding = false;
    return n;
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise((r) => this.server?.close(r));
  }
}

/** A copy of the operator's kubeconfig that reaches the API server at `server` instead. */
export function operatorKubeconfigVia(api: ApiServer, server: string): string {
  const cfg = parseYaml(readFileSync(api.operatorKubeconfigFile, 'utf8')) as {
    clusters: Array<{ cluster: { server: string } }>;
  };
  for (const c of cfg.clusters) c.cluster.server = server;
  const file = join(tempDir(), 'operator-via-proxy.kubeconfig');
  writeFileSync(file, stringifyYaml(cfg));
  return file;
}

/** The operator as a real process with the RBAC it ships (as TestCluster.startOperator), any kubeconfig. */
export function startOperatorProcess(kubeconfigFile: string, namespace: string, extra: string[] = []): Proc {
  return start(process.execPath, [
    OPERATOR,
    '--kubeconfig',
    kubeconfigFile,
    '--namespace',
    namespace,
    '--metrics-bind-address',
    '127.0.0.1:0',
    '--health-probe-bind-address',
    '127.0.0.1:0',
    '--leader-election-namespace',
    'peapods-system',
    ...extra,
  ]);
}

/** Kills with SIGKILL and waits for the exit; resolves when the process is gone. */
export async function sigkill(p: Proc): Promise<void> {
  p.child.kill('SIGKILL');
  await p.exited;
}

export interface PeaRecord {
  /** Every status.phase the watch showed, consecutive repeats folded. */
  phases: string[];
  last?: Pea;
  /** The DELETED event was seen. */
  gone: boolean;
  /** Its phase changed across a relist: a phase in between may not have been seen. */
  relisted?: boolean;
}

type Waiter = () => void;

/**
 * Watches Peas and pods in one namespace from the resourceVersion of an initial list, so
 * every change is seen once, in order: every pod ever created (by UID, per Pea) and every
 * phase each Pea went through. A watch that breaks resumes from the last resourceVersion
 * seen; a 410 Gone (after a restart of the API server) makes it relist, counted in `gaps`.
 */
export class Recorder {
  readonly peas = new Map<string, PeaRecord>();
  /** Pea name → pod UID → the pod as last seen. */
  readonly pods = new Map<string, Map<string, k8s.V1Pod>>();
  gaps = 0;
  reconnects = 0;
  /**
   * Progress the operator made, as the watches saw it: a Pea's phase changed or one of its
   * pods appeared. The fault suites pace their faults by this count, not by the clock, so
   * that a slow machine gets as many faults per lifecycle as a fast one.
   */
  transitions = 0;
  private readonly waiters = new Set<Waiter>();
  private readonly aborts = new Set<AbortController>();
  private stopped = false;

  private readonly custom: k8s.CustomObjectsApi;
  private readonly core: k8s.CoreV1Api;

  constructor(
    private readonly kc: k8s.KubeConfig,
    readonly namespace: string,
  ) {
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
  }

  async start(): Promise<void> {
    const [peas, pods] = await this.list();
    for (const p of peas.items) this.onPea('ADDED', p);
    for (const p of pods.items) this.onPod('ADDED', p);
    void this.follow(
      `/apis/${GROUP}/${VERSION}/namespaces/${this.namespace}/${PLURAL}`,
      peas.metadata!.resourceVersion!,
      (t, o) => this.onPea(t, o as Pea),
      () => this.relistPeas(),
    );
    void this.follow(
      `/api/v1/namespaces/${this.namespace}/pods`,
      pods.metadata!.resourceVersion!,
      (t, o) => this.onPod(t, o as k8s.V1Pod),
      () => this.relistPods(),
    );
  }

  private async list(): Promise<[k8s.KubernetesListObject<Pea & k8s.KubernetesObject>, k8s.V1PodList]> {
    // Right after the CRD is installed, or the API server restarted, its storage may answer
    // 429 for a moment.
    const peas = (await retrying('list Peas', () =>
      this.custom.listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: this.namespace,
        plural: PLURAL,
      }),
    )) as k8s.KubernetesListObject<Pea & k8s.KubernetesObject>;
    const pods = await retrying('list pods', () =>
      this.core.listNamespacedPod({ namespace: this.namespace }),
    );
    return [peas, pods];
  }

  /**
   * After a 410 (a restarted API server's watch cache starts at its own first revision):
   * the current state instead of the changes in between. Only the last moments before the
   * old API server stopped can be missing; a Pea whose phase moved across such a relist is
   * marked, since a phase it passed through then may not have been seen.
   */
  private async relistPeas(): Promise<string> {
    const [peas] = await this.list();
    const present = new Set(peas.items.map((p) => p.metadata!.name!));
    for (const p of peas.items) {
      const r = this.peas.get(p.metadata!.name!);
      if (r && r.last?.status?.phase !== p.status?.phase) r.relisted = true;
      this.onPea('MODIFIED', p);
    }
    for (const [name, r] of this.peas) {
      if (!r.gone && !present.has(name)) {
        r.relisted = true;
        if (r.last) this.onPea('DELETED', r.last);
      }
    }
    return peas.metadata!.resourceVersion!;
  }

  private async relistPods(): Promise<string> {
    const [, pods] = await this.list();
    for (const p of pods.items) this.onPod('MODIFIED', p);
    return pods.metadata!.resourceVersion!;
  }

  stop(): void {
    this.stopped = true;
    for (const a of this.aborts) a.abort();
  }

  pea(name: string): Pea | undefined {
    const r = this.peas.get(name);
    return r?.gone ? undefined : r?.last;
  }

  /** The Pea's pods ever created, newest last. */
  podsEver(name: string): k8s.V1Pod[] {
    return [...(this.pods.get(name)?.values() ?? [])];
  }

  /** Resolves the first truthy value of `check`, re-evaluated on every watch event. */
  when<T>(what: string, check: () => T | undefined | false, ms: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = () => {
        const v = check();
        if (v === undefined || v === false) return;
        this.waiters.delete(waiter);
        clearTimeout(timer);
        resolve(v);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      }, ms);
      this.waiters.add(waiter);
      waiter();
    });
  }

  /** Resolves once `n` more transitions were seen, or when `stop()` says so (then false). */
  async progressed(n: number, stop: () => boolean): Promise<boolean> {
    const target = this.transitions + n;
    while (this.transitions < target) {
      if (stop()) return false;
      await sleep(20);
    }
    return true;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private onPea(type: string, pea: Pea): void {
    const name = pea.metadata.name as string;
    const r = this.peas.get(name) ?? { phases: [], gone: false };
    const phase = pea.status?.phase;
    if (phase && r.phases[r.phases.length - 1] !== phase) {
      r.phases.push(phase);
      this.transitions++;
    }
    r.last = pea;
    if (type === 'DELETED') r.gone = true;
    this.peas.set(name, r);
    this.wake();
  }

  private onPod(_type: string, pod: k8s.V1Pod): void {
    const pea = pod.metadata?.labels?.['peapods.io/pea'];
    if (!pea) return;
    const byUid = this.pods.get(pea) ?? new Map<string, k8s.V1Pod>();
    if (!byUid.has(pod.metadata!.uid!)) this.transitions++;
    byUid.set(pod.metadata!.uid!, pod);
    this.pods.set(pea, byUid);
    this.wake();
  }

  private async follow(
    path: string,
    from: string,
    on: (type: string, obj: k8s.KubernetesObject) => void,
    relist: () => Promise<string>,
  ): Promise<void> {
    const watch = new k8s.Watch(this.kc);
    let rv = from;
    while (!this.stopped) {
      let expired = false;
      await new Promise<void>((done) => {
        void watch
          .watch(
            path,
            { resourceVersion: rv, allowWatchBookmarks: true },
            (type, obj: k8s.KubernetesObject & { code?: number }) => {
              if (type === 'ERROR') {
                if (obj.code === 410) expired = true;
                return;
              }
              rv = obj.metadata?.resourceVersion ?? rv;
              if (type !== 'BOOKMARK') on(type, obj);
            },
            () => done(),
          )
          .then((a) => this.aborts.add(a));
      });
      if (this.stopped) return;
      if (expired) {
        this.gaps++;
        rv = await relist();
      } else {
        this.reconnects++;
        await sleep(100);
      }
    }
  }
}

/** Runs `fn` until it succeeds, through an API server that is down or restarting. */
export async function retrying<T>(what: string, fn: () => Promise<T>, ms = 120_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      const code = (err as { code?: number }).code;
      const transient = code === undefined || code === 429 || code >= 500;
      if (!transient || Date.now() > deadline) throw new Error(`${what}: ${String(err)}`);
      await sleep(200);
    }
  }
}

/** The kubelet's part, with the pod IP the test chose (each Pea's sidecar has its own). */
export class Kubelet {
  readonly core: k8s.CoreV1Api;
  constructor(
    kc: k8s.KubeConfig,
    private readonly namespace: string,
  ) {
    this.core = kc.makeApiClient(k8s.CoreV1Api);
  }

  running(pod: string, ip: string, ready: boolean): Promise<void> {
    const now = new Date();
    return this.status(pod, {
      phase: 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      startTime: now,
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: now }],
      containerStatuses: [
        {
          name: 'runtime',
          image: 'example/runtime:1',
          imageID: '',
          ready,
          restartCount: 0,
          state: { running: { startedAt: now } },
        },
      ],
    });
  }

  terminated(pod: string, ip: string, exitCode: number): Promise<void> {
    const now = new Date();
    return this.status(pod, {
      phase: exitCode === 0 ? 'Succeeded' : 'Failed',
      podIP: ip,
      conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: now }],
      containerStatuses: [
        {
          name: 'runtime',
          image: 'example/runtime:1',
          imageID: '',
          ready: false,
          restartCount: 0,
          state: {
            terminated: {
              exitCode,
              reason: exitCode ? 'Error' : 'Completed',
              startedAt: now,
              finishedAt: now,
            },
          },
        },
      ],
    });
  }

  private async status(name: string, status: k8s.V1PodStatus): Promise<void> {
    await retrying(`status of pod ${name}`, () =>
      this.core.patchNamespacedPodStatus({ name, namespace: this.namespace, body: { status } }, MERGE),
    );
  }
}

export interface ChaosSidecar {
  proc: Proc;
  ip: string;
  /** SIGTERM (cancel, teardown, exit), then SIGKILL if it lingers. */
  close(): Promise<void>;
}

/**
 * The real `pea-runtime sidecar`, listening on its own loopback address (the "pod IP") on
 * the port the operator dials, so each Pea's Cancel reaches its own sidecar and no other.
 */
export async function startChaosSidecar(
  ip: string,
  grpcPort: number,
  httpPort: number,
  token?: string,
): Promise<ChaosSidecar> {
  const dir = tempDir();
  if (token !== undefined) writeSecretVolume(join(dir, 'secret'), { token });
  const proc = start(
    process.execPath,
    [
      CLI,
      'sidecar',
      '--host',
      ip,
      '--grpc-port',
      String(grpcPort),
      '--http-port',
      String(httpPort),
      '--termination-log',
      join(dir, 'termination-log'),
      '--cancel-timeout',
      '5',
      '--log-level',
      'warn',
      ...(token !== undefined ? ['--token-file', join(dir, 'secret', 'token')] : []),
      '--',
      'sleep',
      '900',
    ],
    { LOG_LEVEL: 'warn' },
  );
  const deadline = Date.now() + 20_000;
  // Listening once a connection to its gRPC port succeeds.
  while (!(await canConnect(ip, grpcPort))) {
    if (proc.child.exitCode !== null || Date.now() > deadline) {
      proc.child.kill('SIGKILL');
      throw new Error(`sidecar on ${ip}:${grpcPort} did not start:\n${proc.output().slice(-2000)}`);
    }
    await sleep(30);
  }
  return {
    proc,
    ip,
    close: async () => {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
      proc.child.kill('SIGTERM');
      // killTree, not kill: a SIGKILLed sidecar would leave its runtime behind.
      const t = setTimeout(() => proc.child.pid && killTree(proc.child.pid), 8000);
      await proc.exited;
      clearTimeout(t);
    },
  };
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** The i-th loopback "pod IP" of a suite: 127.<block>.x.y, never .0 or .255. */
export function podIp(block: number, i: number): string {
  return `127.${block}.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}

export type Ending = 'cancel' | 'delete';

export interface LifecycleEnv {
  custom: k8s.CustomObjectsApi;
  namespace: string;
  recorder: Recorder;
  kubelet: Kubelet;
  grpcPort: number;
  httpPort: number;
  /** How long to wait for each step; faults make steps slow, never stuck. */
  stepMs: number;
}

export interface LifecycleResult {
  name: string;
  ending: Ending;
  /** What went wrong, in words; undefined when the Pea ended as it should. */
  problem?: string;
  /** The sidecar's exit code: 0 means it got Cancel and stopped its runtime cleanly. */
  sidecarExit?: number;
}

export const isCancelled = (p: Pea | undefined): boolean =>
  p?.status?.phase === 'Succeeded' && p.status.reason === 'Cancelled';

/** A Pea brought up to Ready, with its sidecar running: what cancel() needs. */
export interface Running {
  name: string;
  ip: string;
  pod: string;
  sidecar: ChaosSidecar;
}

/**
 * The first half of a lifecycle: create → pod → sidecar up and the pod marked Ready (the
 * kubelet) → the Pea Ready. Throws, having stopped the sidecar, if a step does not happen.
 */
export async function bringUp(
  env: LifecycleEnv,
  name: string,
  ip: string,
  spec: Partial<PeaSpec> = {},
): Promise<Running> {
  const { recorder: rec, kubelet, stepMs } = env;
  const body = {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'Pea',
    metadata: { name },
    // cancelSeconds well above what a cancel takes here: on a loaded machine (load 20+) a
    // Cancel, the sidecar's exit and the kubelet's write of it took over the 15 s a
    // cancelSeconds of 10 allows, and the Pea ended CancelTimeout, which this suite counts as
    // a wrong end. A slow machine must not read as a lost end; a lost one never arrives at all.
    spec: { image: 'example/runtime:1', timeouts: { cancelSeconds: 30, teardownSeconds: 5 }, ...spec },
  };
  await retrying(`create ${name}`, () =>
    env.custom
      .createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: env.namespace,
        plural: PLURAL,
        body,
      })
      .catch((err: { code?: number }) => {
        if (err.code === 409) return undefined; // a retry after a lost response
        throw err;
      }),
  );
  const podObject = await rec.when(`the pod of ${name}`, () => rec.podsEver(name)[0], stepMs);
  const pod = podObject.metadata!.name!;
  const token = await controlToken(env, podObject);
  const sidecar = await startChaosSidecar(ip, env.grpcPort, env.httpPort, token);
  try {
    await kubelet.running(pod, ip, true);
    await rec.when(`${name} Ready`, () => rec.pea(name)?.status?.phase === 'Ready', stepMs);
  } catch (err) {
    await sidecar.close();
    throw err;
  }
  return { name, ip, pod, sidecar };
}

/**
 * What the kubelet would mount for the sidecar's --token-file: the key of the Secret volume
 * the pod's sidecar container reads it from, found through the pod spec (undefined when
 * the pod gives the sidecar no token). Waits for the Secret, as the kubelet does.
 */
async function controlToken(env: LifecycleEnv, pod: k8s.V1Pod): Promise<string | undefined> {
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  for (const c of containers) {
    const args = [...(c.command ?? []), ...(c.args ?? [])];
    const at = args.indexOf('--token-file');
    const path =
      at >= 0 ? args[at + 1] : args.find((a) => a.startsWith('--token-file='))?.slice('--token-file='.length);
    if (!path) continue;
    const mount = (c.volumeMounts ?? []).find((m) => path.startsWith(`${m.mountPath.replace(/\/$/, '')}/`));
    const secretName = pod.spec?.volumes?.find((v) => v.name === mount?.name)?.secret?.secretName;
    if (!mount || !secretName)
      throw new Error(`pod ${pod.metadata?.name}: --token-file ${path} is not on a Secret volume`);
    const key = path.slice(mount.mountPath.replace(/\/$/, '').length + 1);
    const core = env.kubelet.core;
    const deadline = Date.now() + env.stepMs;
    for (;;) {
      const secret = await retrying(`Secret ${secretName}`, () =>
        core
          .readNamespacedSecret({ name: secretName, namespace: env.namespace })
          .catch((err: { code?: number }) => {
            if (err.code === 404) return undefined;
            throw err;
          }),
      );
      const data = secret?.data?.[key];
      if (data !== undefined) return Buffer.from(data, 'base64').toString('utf8');
      if (Date.now() > deadline)
        throw new Error(`Secret ${secretName} with key ${key} (the sidecar's control token) did not appear`);
      await sleep(100);
    }
  }
  return undefined;
}

/**
 * Sends the cancel: spec.cancel, or a foreground delete (`kubectl delete --cascade=foreground`):
 * the Pea stays, being deleted, until the garbage collector saw its pod go, and the operator
 * cancels it meanwhile. No controller-manager runs here: collectGarbage() plays it.
 */
export async function requestCancel(env: LifecycleEnv, name: string, ending: Ending): Promise<void> {
  if (ending === 'cancel') {
    await retrying(`cancel ${name}`, () =>
      env.custom.patchNamespacedCustomObject(
        {
          group: GROUP,
          version: VERSION,
          namespace: env.namespace,
          plural: PLURAL,
          name,
          body: { spec: { cancel: true } },
        },
        MERGE,
      ),
    );
    return;
  }
  await retrying(`delete ${name}`, () =>
    env.custom
      .deleteNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: env.namespace,
        plural: PLURAL,
        name,
        propagationPolicy: 'Foreground',
      })
      .catch((err: { code?: number }) => {
        if (err.code === 404) return undefined;
        throw err;
      }),
  );
}

/**
 * The garbage collector's part in a foreground deletion, once the kubelet has reported the
 * pod's containers ended: the pod goes (the kubelet's final delete), then the Pea, whose
 * `foregroundDeletion` finalizer comes off once it has no pod left.
 */
export async function collectGarbage(env: LifecycleEnv, name: string, pod: string): Promise<void> {
  await retrying(`delete pod ${pod}`, () =>
    env.kubelet.core
      .deleteNamespacedPod({ name: pod, namespace: env.namespace, gracePeriodSeconds: 0 })
      .catch((err: { code?: number }) => {
        if (err.code === 404) return undefined;
        throw err;
      }),
  );
  await retrying(`release ${name}`, () =>
    env.custom
      .patchNamespacedCustomObject(
        {
          group: GROUP,
          version: VERSION,
          namespace: env.namespace,
          plural: PLURAL,
          name,
          body: { metadata: { finalizers: null } },
        },
        MERGE,
      )
      .catch((err: { code?: number }) => {
        if (err.code === 404) return undefined;
        throw err;
      }),
  );
}

/**
 * The second half, once the cancel is requested: the operator's Cancel RPC stops the
 * sidecar → the runtime container marked terminated with `exitCode` (the kubelet) → the
 * Pea Cancelled; after a delete, then gone (collectGarbage). Resolves what went wrong, if anything.
 */
export async function finish(
  env: LifecycleEnv,
  r: Running,
  ending: Ending,
  exitCode: number,
): Promise<LifecycleResult> {
  const { recorder: rec, kubelet, stepMs } = env;
  const { name } = r;
  const result: LifecycleResult = { name, ending };
  try {
    // The Cancel RPC makes the sidecar stop its runtime and exit; or the Pea ends some other
    // way (which the checks below then report).
    const ended = await Promise.race([
      r.sidecar.proc.exited.then((code) => ({ code })),
      rec
        .when(
          `${name} to end`,
          () =>
            rec.peas.get(name)?.gone || ['Succeeded', 'Failed'].includes(rec.pea(name)?.status?.phase ?? ''),
          stepMs * 2,
        )
        .then(() => ({ code: undefined })),
    ]);
    result.sidecarExit = ended.code;
    if (ended.code !== undefined) await kubelet.terminated(r.pod, r.ip, exitCode);
    const last = await rec.when(
      `${name} finished`,
      () => ['Succeeded', 'Failed'].includes(rec.pea(name)?.status?.phase ?? '') && rec.pea(name),
      stepMs,
    );
    if (!isCancelled(last))
      result.problem =
        `ended ${last.status?.phase}/${last.status?.reason} (${last.status?.message}), ` +
        'not Succeeded/Cancelled';
    if (ending === 'delete') {
      await collectGarbage(env, name, r.pod);
      await rec.when(`${name} gone`, () => rec.peas.get(name)?.gone, stepMs);
    }
    if (result.problem === undefined && ended.code !== 0)
      result.problem = `the sidecar did not exit 0 after Cancel (exit ${ended.code})`;
  } catch (err) {
    result.problem = String(err);
  } finally {
    await r.sidecar.close();
  }
  return result;
}

/**
 * One Pea, start to end: create → pod → sidecar up and the pod marked Ready (the kubelet) →
 * the Pea Ready → cancel by spec.cancel or by delete → the operator's Cancel RPC stops the
 * sidecar → the runtime container marked terminated (the kubelet) → Cancelled, or gone.
 */
export async function lifecycle(
  env: LifecycleEnv,
  name: string,
  ip: string,
  ending: Ending,
  exitCode: number,
): Promise<LifecycleResult> {
  let running: Running;
  try {
    running = await bringUp(env, name, ip);
  } catch (err) {
    return { name, ending, problem: String(err) };
  }
  try {
    await requestCancel(env, name, ending);
  } catch (err) {
    await running.sidecar.close();
    return { name, ending, problem: String(err) };
  }
  return finish(env, running, ending, exitCode);
}

/**
 * The transitions a Cancelled lifecycle must show, in order, in what the watch saw: Ready
 * (the kubelet said so), Cancelling (Cancel sent and recorded), Succeeded. Missing ones are
 * lost transitions; so is going backwards (say, Ready after Cancelling).
 */
export function lostTransitions(rec: PeaRecord | undefined): string[] {
  if (!rec) return ['never seen'];
  // Across a relist only the end can be vouched for (lifecycle() checks it), and the order.
  const want = rec.relisted ? ['Succeeded'] : ['Ready', 'Cancelling', 'Succeeded'];
  const lost: string[] = [];
  let at = -1;
  for (const phase of want) {
    const i = rec.phases.indexOf(phase, at + 1);
    if (i < 0) lost.push(phase);
    else at = i;
  }
  const order = ['Pending', 'Starting', 'Ready', 'Cancelling', 'Succeeded', 'Failed'];
  for (let i = 1; i < rec.phases.length; i++) {
    if (order.indexOf(rec.phases[i] as string) < order.indexOf(rec.phases[i - 1] as string))
      lost.push(`${rec.phases[i - 1]}→${rec.phases[i]}`);
  }
  return lost;
}

/** Names of Peas (in the recorder) that still carry a finalizer. */
export function finalizersLeft(rec: Recorder): string[] {
  return [...rec.peas.entries()]
    .filter(([, r]) => !r.gone && (r.last?.metadata.finalizers ?? []).length > 0)
    .map(([n]) => n);
}

/** Runs `work(i)` for i in [0, n) with at most `concurrency` at once. */
export async function pool<T>(n: number, concurrency: number, work: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, concurrency) }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await work(i);
      }
    }),
  );
  return out;
}

// The Pea controller: informers feed keys to a work queue; workers reconcile one key at a
// time: read the Pea and its pod from the caches, decide() (pure), then write the difference.
import * as grpc from '@grpc/grpc-js';
import * as k8s from '@kubernetes/client-node';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION, type Pea, type PeaStatus } from '../api/v1alpha1/types.js';
import { lifecycleClient, type CancelResponse } from '../shared/lifecycle-proto.js';
import type { Logger } from '../shared/logger.js';
import { decide, FINALIZER, podRejected, type Action, type Decision, type PeaEvent } from './decide.js';
import { resilientInformer, type ResilientInformer } from './informer.js';
import type { Metrics } from './metrics.js';
import { buildPod, LABEL_MANAGED, LABEL_PEA, MANAGER, podName, type PodSettings } from './pod.js';
import { OwnWrites } from './own-writes.js';
import { buildTokenSecret, peaToken } from './token.js';
import { bearerMetadata } from '../shared/token.js';
import { WorkQueue } from './queue.js';

export interface ControllerOptions {
  kc: k8s.KubeConfig;
  /** '' = every namespace. */
  namespace: string;
  pod: PodSettings;
  maxConcurrentReconciles: number;
  resyncMs: number;
  cancelRpcTimeoutMs: number;
  /** Derives each Pea's control token (token.ts). */
  tokenKey: Buffer;
  log: Logger;
}

const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const MAX_EVENTS_IN_FLIGHT = 2;
const MAX_EVENT_BACKLOG = 1000;

export class Controller {
  readonly queue = new WorkQueue();
  private readonly peas: ResilientInformer<Pea & k8s.KubernetesObject>;
  private readonly pods: ResilientInformer<k8s.V1Pod>;
  private readonly custom: k8s.CustomObjectsApi;
  private readonly core: k8s.CoreV1Api;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly ownWrites = new OwnWrites();
  private running = false;
  /**
   * Peas whose Cancel this process has sent (key → UID). Cancel goes out only after the
   * status that records it (cancelTime) is written, and once per process while Cancelling:
   * a restarted operator or a new leader cannot know whether the old one's call arrived.
   */
  private readonly cancelSent = new Map<string, string>();
  /**
   * Key → the Pea UID whose token Secret this process created (or found). The pod and its
   * Secret are created together; an operator killed between the two would leave the pod
   * waiting for its Secret volume for ever, so a live Pea not in here gets its Secret
   * created again (409 when it exists): one write per live Pea after a restart, none else.
   */
  private readonly tokenSecretFor = new Map<string, string>();
  /** Set by the caller when metrics are served. */
  metrics?: Metrics;

  constructor(private readonly o: ControllerOptions) {
    this.custom = o.kc.makeApiClient(k8s.CustomObjectsApi);
    this.core = o.kc.makeApiClient(k8s.CoreV1Api);
    const ns = o.namespace;
    this.peas = resilientInformer<Pea & k8s.KubernetesObject>({
      name: 'peas', kc: o.kc, resyncMs: o.resyncMs, log: o.log,
      path: ns ? `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}` : `/apis/${GROUP}/${VERSION}/${PLURAL}`,
      list: (page) => (ns
        ? this.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: PLURAL, ...page })
        : this.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, ...page })) as Promise<k8s.KubernetesListObject<Pea & k8s.KubernetesObject>>,
      onChange: (pea) => this.enqueue(pea.metadata?.namespace, pea.metadata?.name),
      trim: (pea) => void delete pea.metadata?.managedFields,
    });
    const selector = `${LABEL_MANAGED}=${MANAGER}`;
    this.pods = resilientInformer<k8s.V1Pod>({
      name: 'pods', kc: o.kc, resyncMs: o.resyncMs, log: o.log, labelSelector: selector,
      path: ns ? `/api/v1/namespaces/${ns}/pods` : '/api/v1/pods',
      list: (page) => (ns ? this.core.listNamespacedPod({ namespace: ns, labelSelector: selector, ...page }) : this.core.listPodForAllNamespaces({ labelSelector: selector, ...page })),
      onChange: (pod) => this.enqueue(pod.metadata?.namespace, pod.metadata?.labels?.[LABEL_PEA]),
      // decide() reads a pod's metadata and status only; its spec is ours and known.
      trim: (pod) => {
        delete pod.metadata?.managedFields;
        delete (pod as { spec?: unknown }).spec;
      },
    });
  }

  get synced(): boolean {
    return this.peas.synced && this.pods.synced;
  }

  get peaList(): readonly Pea[] {
    return this.peas.list();
  }

  private enqueue(namespace: string | undefined, name: string | undefined): void {
    if (namespace && name) this.queue.add(`${namespace}/${name}`);
  }

  start(): void {
    this.running = true;
    this.peas.start();
    this.pods.start();
    // Workers start once both caches hold a full list, as controller-runtime's do: a Pea
    // reconciled before its pod is cached would look like one whose pod was deleted (seen on
    // a real cluster right after an operator restart). Keys queued meanwhile wait.
    void this.whenSynced().then(() => {
      for (let i = 0; i < this.o.maxConcurrentReconciles; i++) void this.worker();
    });
  }

  private async whenSynced(): Promise<void> {
    while (this.running && !this.synced) await new Promise((r) => setTimeout(r, 50));
  }

  /** Stops taking work, lets in-flight reconciles finish, stops the watches. */
  async stop(): Promise<void> {
    this.running = false;
    this.queue.shutDown();
    await Promise.allSettled([...this.inFlight]);
    this.peas.stop();
    this.pods.stop();
  }

  private async worker(): Promise<void> {
    while (this.running) {
      const key = await this.queue.get();
      if (key === undefined) return;
      const p = this.process(key);
      this.inFlight.add(p);
      await p;
      this.inFlight.delete(p);
    }
  }

  private async process(key: string): Promise<void> {
    const started = performance.now();
    let result = 'success';
    try {
      const requeueAfterMs = await this.reconcile(key);
      this.queue.forget(key);
      if (requeueAfterMs !== undefined) {
        this.queue.addAfter(key, requeueAfterMs);
        result = 'requeue_after';
      }
    } catch (err) {
      const conflict = (err as { code?: number }).code === 409;
      result = conflict ? 'conflict' : 'error';
      // A conflict only means the cache was behind: expected, and retried at once.
      if (conflict) this.o.log.debug({ pea: key }, 'stale read; reconciling again');
      else this.o.log.warn({ pea: key, err: describe(err) }, 'reconcile failed; retrying with backoff');
      this.queue.addRateLimited(key);
    } finally {
      this.queue.done(key);
      this.metrics?.reconciled(result, (performance.now() - started) / 1000);
    }
  }

  /** One pass for one Pea; resolves when to look again, if a deadline is pending. */
  async reconcile(key: string): Promise<number | undefined> {
    const [namespace, name] = key.split('/') as [string, string];
    const cached = this.peas.get(namespace, name);
    if (!cached) {
      this.ownWrites.forget(key);
      this.cancelSent.delete(key);
      this.tokenSecretFor.delete(key);
      return undefined; // deleted; its pod goes with it (owner reference)
    }
    // Our own last write has not reached the cache yet: deciding on the older copy would
    // repeat it and meet a conflict. That write's watch event brings the key back.
    if (this.ownWrites.stale(key, cached.metadata?.resourceVersion)) return undefined;
    let pea = structuredClone(cached) as Pea;
    const log = this.o.log.child({ pea: key });
    let pod = this.ownWrites.pod(key, pea, this.ownedPod(pea));
    let d = decide(pea, pod, new Date());
    if (d.actions.some((a) => a.kind === 'addFinalizer' || a.kind === 'createPod')) {
      const started = await this.startPea(key, pea, d, log);
      if (!started) return undefined;
      ({ pea, pod } = started);
      // Decide again on what those writes returned: the first status goes out in this pass
      // instead of waiting for the pod's watch event.
      d = decide(pea, pod, new Date());
    }
    const finished = d.status.phase === 'Succeeded' || d.status.phase === 'Failed';
    if (pod && !finished && this.tokenSecretFor.get(key) !== pea.metadata.uid) await this.ensureTokenSecret(key, pea);
    for (const a of d.actions.filter((x) => x.kind === 'deletePod')) await this.act(a, pea, log);
    await this.writeStatus(key, pea, d.status);
    // After the write: had Cancel gone first and the write been lost (operator killed, API
    // server down), the runtime's exit would later read as its own end, not a cancel.
    if (d.actions.some((a) => a.kind === 'cancelRpc') && this.cancelSent.get(key) !== pea.metadata.uid) {
      await this.act({ kind: 'cancelRpc' }, pea, log);
      this.cancelSent.set(key, pea.metadata.uid as string);
    }
    if (finished) {
      this.cancelSent.delete(key);
      this.tokenSecretFor.delete(key);
    }
    for (const ev of d.events) this.event(pea, ev, log);
    if (d.actions.some((a) => a.kind === 'removeFinalizer')) await this.act({ kind: 'removeFinalizer' }, pea, log);
    return d.requeueAfterMs;
  }

  /**
   * Adds the finalizer and creates the pod, in one round trip as they do not depend on each
   * other (should the Pea be deleted between them, its pod still goes through preStop
   * teardown). Resolves the Pea and pod as the API server returned them, or undefined when
   * the pod was refused and the Pea failed.
   */
  private async startPea(key: string, pea: Pea, d: Decision, log: Logger): Promise<{ pea: Pea; pod: k8s.V1Pod | undefined } | undefined> {
    const wants = (kind: Action['kind']): boolean => d.actions.some((a) => a.kind === kind);
    try {
      const [patched, created] = await Promise.all([
        wants('addFinalizer') ? this.addFinalizer(pea) : undefined,
        wants('createPod') ? this.createPod(pea, log) : undefined,
      ]);
      if (patched && patched.metadata.resourceVersion !== pea.metadata.resourceVersion) this.ownWrites.wrote(key, pea.metadata.resourceVersion);
      if (created) this.ownWrites.created(key, created);
      return { pea: patched ?? pea, pod: created ?? this.ownedPod(pea) };
    } catch (err) {
      if (!(err instanceof PodRejected)) throw err;
      const r = podRejected(pea, err.message, new Date());
      await this.writeStatus(key, pea, r.status);
      for (const ev of r.events) this.event(pea, ev, log);
      return undefined;
    }
  }

  /** The Pea's pod from the cache, only if it is really this Pea's (same UID). */
  private ownedPod(pea: Pea): k8s.V1Pod | undefined {
    const pod = this.pods.get(pea.metadata.namespace as string, podName(pea));
    return pod?.metadata?.ownerReferences?.some((r) => r.uid === pea.metadata.uid) ? pod : undefined;
  }

  private async act(a: Action, pea: Pea, log: Logger): Promise<void> {
    const ns = pea.metadata.namespace as string;
    const name = pea.metadata.name as string;
    switch (a.kind) {
      case 'addFinalizer':
        await this.addFinalizer(pea);
        return;
      case 'removeFinalizer': {
        const finalizers = (pea.metadata.finalizers ?? []).filter((f) => f !== FINALIZER);
        // resourceVersion makes this a compare-and-swap: a conflict retries with fresh state.
        await ignore(404, this.custom.patchNamespacedCustomObject(
          { group: GROUP, version: VERSION, namespace: ns, plural: PLURAL, name, body: { metadata: { finalizers, resourceVersion: pea.metadata.resourceVersion } } }, MERGE));
        return;
      }
      case 'createPod':
        await this.createPod(pea, log);
        return;
      case 'deletePod':
        log.info({ pod: a.name }, 'deleting pod');
        await ignore(404, this.core.deleteNamespacedPod({ namespace: ns, name: a.name }));
        return;
      case 'cancelRpc':
        await this.cancelRpc(pea, log);
        return;
    }
  }

  /** The Pea as it is after the patch (undefined if it is gone). */
  private async addFinalizer(pea: Pea): Promise<Pea | undefined> {
    const finalizers = [...(pea.metadata.finalizers ?? []).filter((f) => f !== FINALIZER), FINALIZER];
    // resourceVersion makes this a compare-and-swap: a conflict retries with fresh state.
    return (await ignore(404, this.custom.patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace: pea.metadata.namespace as string, plural: PLURAL, name: pea.metadata.name as string,
        body: { metadata: { finalizers, resourceVersion: pea.metadata.resourceVersion } } }, MERGE))) as Pea | undefined;
  }

  /** The pod as created (undefined if it existed already). */
  private async createPod(pea: Pea, log: Logger): Promise<k8s.V1Pod | undefined> {
    log.info({ pod: podName(pea) }, 'creating pod');
    const namespace = pea.metadata.namespace as string;
    try {
      // Together: the kubelet waits for the pod's Secret volume, and a Secret that already
      // exists (a restart, or someone re-created it) holds the same derived token.
      const [pod] = await Promise.all([
        ignore(409, this.core.createNamespacedPod({ namespace, body: buildPod(pea, this.o.pod) })),
        this.ensureTokenSecret(`${namespace}/${pea.metadata.name}`, pea),
      ]);
      return pod;
    } catch (err) {
      // 422: a field the API server cannot take. 403 from PodSecurity admission: the Pea asks
      // for more than its namespace allows. Both are facts about the spec, so the Pea fails
      // and says why. Other 403s (RBAC, quota) may pass later and are retried.
      const code = (err as { code?: number }).code;
      if (code === 422 || (code === 403 && /violates PodSecurity/.test(apiMessage(err)))) {
        throw new PodRejected(`could not create pod ${podName(pea)}: ${apiMessage(err)}; fix the Pea's spec, then delete it and create it again`);
      }
      // Until the pod exists the Pea has no status to show this in; an event does.
      this.event(pea, { type: 'Warning', reason: 'FailedCreatePod', message: `could not create pod ${podName(pea)}: ${describe(err)}` }, log);
      throw err;
    }
  }

  /** Creates the Pea's token Secret; one that exists already holds the same derived token. */
  private async ensureTokenSecret(key: string, pea: Pea): Promise<void> {
    await ignore(409, this.core.createNamespacedSecret({ namespace: pea.metadata.namespace as string, body: buildTokenSecret(pea, this.o.tokenKey) }));
    this.tokenSecretFor.set(key, pea.metadata.uid as string);
  }

  /** Cancel on the pod IP, retried; failing that, the cancel deadline deletes the pod. */
  private async cancelRpc(pea: Pea, log: Logger): Promise<void> {
    const ip = this.ownedPod(pea)?.status?.podIP;
    if (!ip) {
      log.info('no pod IP yet: deleting the pod instead of calling Cancel');
      await ignore(404, this.core.deleteNamespacedPod({ namespace: pea.metadata.namespace as string, name: podName(pea) }));
      return;
    }
    const address = `${ip.includes(':') ? `[${ip}]` : ip}:${this.o.pod.grpcPort}`;
    const reason = pea.metadata.deletionTimestamp ? 'Pea deleted' : 'spec.cancel';
    for (let attempt = 1; attempt <= 3; attempt++) {
      const client = lifecycleClient(address);
      try {
        const res = await new Promise<CancelResponse>((resolve, reject) =>
          client.cancel({ reason }, bearerMetadata(peaToken(this.o.tokenKey, pea)), { deadline: Date.now() + this.o.cancelRpcTimeoutMs }, (err, r) => (err ? reject(err) : resolve(r as CancelResponse))));
        log.info({ address, found: res.status?.phase, alreadyCancelled: res.alreadyCancelled }, 'Cancel RPC sent');
        return;
      } catch (err) {
        if ((err as { code?: number }).code === grpc.status.UNAUTHENTICATED) {
          // The token changed (its Secret edited, or the operator's key): retrying cannot
          // help, and waiting would strand the Pea for cancelSeconds. Deleting the pod runs
          // the same cancel -> teardown through its preStop hook.
          this.event(pea, { type: 'Warning', reason: 'CancelUnauthenticated', message: `the sidecar refused the Pea's control token (was Secret ${pea.metadata.name}-pea-token changed?); deleting the pod, whose preStop hook cancels and tears down the runtime` }, log);
          await ignore(404, this.core.deleteNamespacedPod({ namespace: pea.metadata.namespace as string, name: podName(pea) }));
          return;
        }
        log.warn({ address, attempt, err: describe(err) }, 'Cancel RPC failed');
        await new Promise((r) => setTimeout(r, 200 * attempt));
      } finally {
        client.close();
      }
    }
    this.event(pea, { type: 'Warning', reason: 'CancelUnreachable', message: `the runtime sidecar at ${address} did not answer Cancel; the pod is deleted when spec.timeouts.cancelSeconds runs out` }, log);
  }

  private async writeStatus(key: string, pea: Pea, status: PeaStatus): Promise<void> {
    if (canonical(pea.status ?? {}) === canonical(status)) return;
    // resourceVersion makes the write conditional: a decision taken on a stale cached Pea
    // (say, its pod's deletion seen before our own last status write) gets 409 and is
    // retried on fresh state instead of overwriting a newer status.
    // A merge patch keeps keys it does not mention: null removes the ones decide() dropped.
    const old = typeof pea.status === 'object' && pea.status !== null && !Array.isArray(pea.status) ? pea.status : {};
    const removed = Object.fromEntries(Object.keys(old).filter((k) => !(k in status)).map((k) => [k, null]));
    const written = (await ignore(404, this.custom.patchNamespacedCustomObjectStatus(
      { group: GROUP, version: VERSION, namespace: pea.metadata.namespace as string, plural: PLURAL, name: pea.metadata.name as string,
        body: { metadata: { resourceVersion: pea.metadata.resourceVersion }, status: { ...removed, ...status } } }, MERGE))) as Pea | undefined;
    // A patch that changed nothing keeps the resourceVersion: no watch event will follow it.
    if (written && written.metadata.resourceVersion !== pea.metadata.resourceVersion) this.ownWrites.wrote(key, pea.metadata.resourceVersion);
  }

  private eventsInFlight = 0;
  private readonly eventBacklog: Array<() => Promise<void>> = [];

  /**
   * Queues an Event; a few go out at a time and a flood is cut short, as client-go's
   * recorder does, so that Events never crowd out the writes that matter.
   */
  private event(pea: Pea, ev: PeaEvent, log: Logger): void {
    if (this.eventBacklog.length >= MAX_EVENT_BACKLOG) {
      log.debug({ reason: ev.reason }, 'event backlog full; dropping an event');
      return;
    }
    this.eventBacklog.push(() => this.sendEvent(pea, ev, log));
    this.pumpEvents();
  }

  private pumpEvents(): void {
    while (this.eventsInFlight < MAX_EVENTS_IN_FLIGHT && this.eventBacklog.length > 0) {
      const send = this.eventBacklog.shift() as () => Promise<void>;
      this.eventsInFlight++;
      void send().finally(() => {
        this.eventsInFlight--;
        this.pumpEvents();
      });
    }
  }

  private async sendEvent(pea: Pea, ev: PeaEvent, log: Logger): Promise<void> {
    const now = new Date();
    const ns = pea.metadata.namespace as string;
    try {
      await this.core.createNamespacedEvent({
        namespace: ns,
        body: {
          metadata: { generateName: `${pea.metadata.name}.`, namespace: ns },
          involvedObject: { apiVersion: API_VERSION, kind: KIND, name: pea.metadata.name, namespace: ns, uid: pea.metadata.uid, resourceVersion: pea.metadata.resourceVersion },
          type: ev.type, reason: ev.reason, message: ev.message, source: { component: 'peapods-operator' },
          firstTimestamp: now, lastTimestamp: now, count: 1,
        },
      });
    } catch (err) {
      log.warn({ err: describe(err) }, 'could not record an event');
    }
  }
}

/** JSON with sorted keys: the API server returns a status's keys in its own order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v);
}

/** The API server refused to create the pod (422): retrying cannot help. */
class PodRejected extends Error {}

/** The API server's own message from a failed call, else describe(err). */
function apiMessage(err: unknown): string {
  const body = (err as { body?: unknown }).body;
  try {
    const parsed = (typeof body === 'string' ? JSON.parse(body) : body) as { message?: unknown } | undefined;
    if (typeof parsed?.message === 'string') return parsed.message;
  } catch {
    // not JSON: fall through
  }
  return describe(err);
}

async function ignore<T>(code: number, p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if ((err as { code?: number }).code === code) return undefined;
    throw err;
  }
}

export function describe(err: unknown): string {
  const e = err as { code?: number; body?: unknown; message?: string };
  if (e?.code && e.body) {
    const body = typeof e.body === 'string' ? e.body : JSON.stringify(e.body);
    return `HTTP ${e.code}: ${body.slice(0, 500)}`;
  }
  // fetch's own message is only "fetch failed"; what went wrong is in its cause.
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const why = cause ? ` (${[cause.code, cause.message].filter(Boolean).join(': ')})` : '';
  return `${e?.message ?? String(err)}${why}`;
}

export type { Decision };

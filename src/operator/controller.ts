// The Pea controller, wired together: two informers (Peas, and the pods the operator made)
// feed keys to a work queue; the workers (workers.ts) run the reconciler (reconcile.ts)
// over them, which decides (decide.ts) and writes (writes.ts, cancel.ts, events.ts).
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type Pea } from '../api/v1alpha1/types.js';
import type { Logger } from '../shared/logger.js';
import { CancelClient } from './cancel.js';
import { EventRecorder } from './events.js';
import { JsonCoreApi } from './json-api.js';
import { resilientInformer, type ResilientInformer } from './informer.js';
import type { Metrics } from './metrics.js';
import { LABEL_MANAGED, LABEL_PEA, MANAGER, trimPea, trimPod, type PodOptions } from './pod.js';
import { WorkQueue } from './queue.js';
import { Reconciler } from './reconcile.js';
import { Workers } from './workers.js';
import { PeaWrites } from './writes.js';

type PeaList = k8s.KubernetesListObject<Pea & k8s.KubernetesObject>;

/** What the operator's flags give the controller. */
export interface ControllerOptions {
  kc: k8s.KubeConfig;
  /** '' = every namespace. */
  namespace: string;
  pod: PodOptions;
  maxConcurrentReconciles: number;
  resyncMs: number;
  cancelRpcTimeoutMs: number;
  /** Derives each Pea's control token (token.ts). */
  tokenKey: Buffer;
  /** Puts the Pea NetworkPolicy into a namespace before its first pod (network-policy.ts). */
  networkPolicies?: { ensure(namespace: string): Promise<void> };
  log: Logger;
  /** Also told of every Pea and pod change (the PeaSet controller shares these caches). */
  alsoOnChange?: { pea(pea: Pea): void; pod(pod: k8s.V1Pod): void };
}

/** The Pea controller: start() once, stop() on shutdown. */
export class Controller {
  /** Keys (`namespace/name`) of the Peas to reconcile. */
  readonly queue = new WorkQueue();
  private readonly peas: ResilientInformer<Pea & k8s.KubernetesObject>;
  private readonly pods: ResilientInformer<k8s.V1Pod>;
  private readonly workers: Workers;
  private readonly reconciler: Reconciler;

  constructor(private readonly o: ControllerOptions) {
    const custom = o.kc.makeApiClient(k8s.CustomObjectsApi);
    const core = new JsonCoreApi(o.kc);
    const ns = o.namespace;
    this.peas = resilientInformer<Pea & k8s.KubernetesObject>({
      name: 'peas',
      kc: o.kc,
      resyncMs: o.resyncMs,
      log: o.log,
      path: ns
        ? `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}`
        : `/apis/${GROUP}/${VERSION}/${PLURAL}`,
      list: (page) =>
        (ns
          ? custom.listNamespacedCustomObject({
              group: GROUP,
              version: VERSION,
              namespace: ns,
              plural: PLURAL,
              ...page,
            })
          : custom.listClusterCustomObject({
              group: GROUP,
              version: VERSION,
              plural: PLURAL,
              ...page,
            })) as Promise<PeaList>,
      onChange: (pea) => {
        this.enqueue(pea.metadata?.namespace, pea.metadata?.name);
        o.alsoOnChange?.pea(pea);
      },
      trim: trimPea,
    });
    const selector = `${LABEL_MANAGED}=${MANAGER}`;
    this.pods = resilientInformer<k8s.V1Pod>({
      name: 'pods',
      kc: o.kc,
      resyncMs: o.resyncMs,
      log: o.log,
      labelSelector: selector,
      path: ns ? `/api/v1/namespaces/${ns}/pods` : '/api/v1/pods',
      list: (page) =>
        ns
          ? core.listNamespacedPod({ namespace: ns, labelSelector: selector, ...page })
          : core.listPodForAllNamespaces({ labelSelector: selector, ...page }),
      onChange: (pod) => {
        this.enqueue(pod.metadata?.namespace, pod.metadata?.labels?.[LABEL_PEA]);
        o.alsoOnChange?.pod(pod);
      },
      trim: trimPod,
    });
    const reconciler = (this.reconciler = new Reconciler(
      { pea: (ns, name) => this.peas.get(ns, name), pod: (ns, name) => this.pods.get(ns, name) },
      new PeaWrites(o.kc, o.pod, o.tokenKey),
      new CancelClient(o.cancelRpcTimeoutMs),
      new EventRecorder(core),
      { grpcPort: o.pod.grpcPort, tokenKey: o.tokenKey, networkPolicies: o.networkPolicies, log: o.log },
    ));
    this.workers = new Workers(this.queue, reconciler.reconcile, o.log);
  }

  /** Set by the caller when metrics are served. */
  set metrics(m: Metrics | undefined) {
    this.workers.metrics = m;
    this.reconciler.metrics = m;
  }

  /** Both caches hold a full list. */
  get synced(): boolean {
    return this.peas.synced && this.pods.synced;
  }

  /** Every Pea in the cache. */
  get peaList(): readonly Pea[] {
    return this.peas.list();
  }

  /** The Pea and pod caches, for the PeaSet controller to read. */
  get caches(): { pea: ResilientInformer<Pea & k8s.KubernetesObject>; pod: ResilientInformer<k8s.V1Pod> } {
    return { pea: this.peas, pod: this.pods };
  }

  private enqueue(namespace: string | undefined, name: string | undefined): void {
    if (namespace && name) this.queue.add(`${namespace}/${name}`);
  }

  /** Starts the watches, and the workers once both caches are synced. */
  start(): void {
    this.peas.start();
    this.pods.start();
    // Workers start once both caches hold a full list, as controller-runtime's do: a Pea
    // reconciled before its pod is cached would look like one whose pod was deleted (seen on
    // a real cluster right after an operator restart). Keys queued meanwhile wait.
    this.workers.start(this.o.maxConcurrentReconciles, () => this.whenSynced());
  }

  private async whenSynced(): Promise<void> {
    while (this.workers.isRunning && !this.synced) await new Promise((r) => setTimeout(r, 50));
  }

  /** Stops taking work, lets in-flight reconciles finish, stops the watches. */
  async stop(): Promise<void> {
    await this.workers.stop();
    this.peas.stop();
    this.pods.stop();
  }
}

// The PeaSet controller, wired into the operator beside the Pea controller: its own informers
// (PeaSets, and the EndpointSlices of its Services) and its own queue and workers, but the Pea
// controller's Pea and pod caches, whose changes it is told of.
import * as k8s from '@kubernetes/client-node';
import { PEASET_PLURAL, type PeaSet } from '../../api/v1alpha1/peaset.js';
import { GROUP, VERSION, type Pea } from '../../api/v1alpha1/types.js';
import type { Logger } from '../../shared/logger.js';
import type { Controller } from '../controller.js';
import type { EventRecorder } from '../events.js';
import { resilientInformer, type ResilientInformer } from '../informer.js';
import type { Metrics } from '../metrics.js';
import { LABEL_MANAGED, MANAGER } from '../pod.js';
import { WorkQueue } from '../queue.js';
import { Workers } from '../workers.js';
import { LABEL_PEASET } from './members.js';
import { PeaSetReconciler, type PeaSetReconcilerOptions } from './reconcile.js';
import { PeaSetWrites } from './writes.js';

type PeaSetList = k8s.KubernetesListObject<PeaSet & k8s.KubernetesObject>;

/** What the operator's flags give the PeaSet controller. */
export interface PeaSetControllerOptions {
  kc: k8s.KubeConfig;
  /** '' = every namespace. */
  namespace: string;
  maxConcurrentReconciles: number;
  resyncMs: number;
  events: EventRecorder;
  /** How a drained pod's runtime is cancelled (see PeaSetReconcilerOptions). */
  cancel: PeaSetReconcilerOptions['cancel'];
  log: Logger;
}

/** The PeaSet controller: construct it before the Pea controller starts (its onChange hooks), start() once. */
export class PeaSetController {
  /** Keys (`namespace/name`) of the PeaSets to reconcile. */
  readonly queue = new WorkQueue();
  private readonly sets: ResilientInformer<PeaSet & k8s.KubernetesObject>;
  private readonly slices: ResilientInformer<k8s.V1EndpointSlice>;
  private workers?: Workers;
  private peas?: Controller;

  constructor(private readonly o: PeaSetControllerOptions) {
    const custom = o.kc.makeApiClient(k8s.CustomObjectsApi);
    const discovery = o.kc.makeApiClient(k8s.DiscoveryV1Api);
    const ns = o.namespace;
    const common = { kc: o.kc, resyncMs: o.resyncMs, log: o.log };
    this.sets = resilientInformer<PeaSet & k8s.KubernetesObject>({
      ...common,
      name: 'peasets',
      path: ns
        ? `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PEASET_PLURAL}`
        : `/apis/${GROUP}/${VERSION}/${PEASET_PLURAL}`,
      list: (page) =>
        (ns
          ? custom.listNamespacedCustomObject({
              group: GROUP,
              version: VERSION,
              namespace: ns,
              plural: PEASET_PLURAL,
              ...page,
            })
          : custom.listClusterCustomObject({
              group: GROUP,
              version: VERSION,
              plural: PEASET_PLURAL,
              ...page,
            })) as Promise<PeaSetList>,
      onChange: (set) => this.enqueue(set.metadata?.namespace, set.metadata?.name),
      trim: withoutManagedFields,
    });
    // The EndpointSlice controller copies a Service's labels onto its slices: ours say managed-by.
    const selector = `${LABEL_MANAGED}=${MANAGER}`;
    this.slices = resilientInformer<k8s.V1EndpointSlice>({
      ...common,
      name: 'endpointslices',
      labelSelector: selector,
      path: ns
        ? `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`
        : '/apis/discovery.k8s.io/v1/endpointslices',
      list: (page) =>
        ns
          ? discovery.listNamespacedEndpointSlice({ namespace: ns, labelSelector: selector, ...page })
          : discovery.listEndpointSliceForAllNamespaces({ labelSelector: selector, ...page }),
      onChange: (slice) => this.enqueue(slice.metadata?.namespace, slice.metadata?.labels?.[LABEL_PEASET]),
      trim: withoutManagedFields,
    });
  }

  /** The hooks to give the Pea controller (ControllerOptions.alsoOnChange). */
  readonly onChange = {
    pea: (pea: Pea): void => this.enqueue(pea.metadata?.namespace, pea.metadata?.labels?.[LABEL_PEASET]),
    pod: (pod: k8s.V1Pod): void =>
      this.enqueue(pod.metadata?.namespace, pod.metadata?.labels?.[LABEL_PEASET]),
  };

  private enqueue(namespace: string | undefined, name: string | undefined): void {
    if (namespace && name) this.queue.add(`${namespace}/${name}`);
  }

  /** Whether its own caches and the Pea controller's hold a full list. */
  get synced(): boolean {
    return this.sets.synced && this.slices.synced && Boolean(this.peas?.synced);
  }

  /** Starts the watches, and the workers once every cache it reads is synced. */
  start(peas: Controller, metrics?: Metrics): void {
    this.peas = peas;
    const { pea, pod } = peas.caches;
    const reconciler = new PeaSetReconciler(
      {
        peaSet: (ns, name) => this.sets.get(ns, name),
        members: (ns, name) =>
          pea
            .list()
            .filter((p) => p.metadata?.namespace === ns && p.metadata?.labels?.[LABEL_PEASET] === name),
        pod: (ns, name) => pod.get(ns, name),
        slices: (ns, name) =>
          this.slices
            .list()
            .filter(
              (s) =>
                s.metadata?.namespace === ns && s.metadata?.labels?.['kubernetes.io/service-name'] === name,
            ),
      },
      new PeaSetWrites(this.o.kc),
      this.o.events,
      { resyncMs: this.o.resyncMs, cancel: this.o.cancel, log: this.o.log },
    );
    this.workers = new Workers(this.queue, reconciler.reconcile, this.o.log);
    this.workers.metrics = metrics;
    this.sets.start();
    this.slices.start();
    this.workers.start(this.o.maxConcurrentReconciles, async () => {
      while (this.workers?.isRunning && !this.synced) await new Promise((r) => setTimeout(r, 50));
    });
  }

  /** Stops taking work, lets in-flight reconciles finish, stops the watches. */
  async stop(): Promise<void> {
    await this.workers?.stop();
    this.sets.stop();
    this.slices.stop();
  }
}

/** A cached object without its managedFields, which nothing here reads. */
function withoutManagedFields<T extends { metadata?: { managedFields?: unknown } }>(obj: T): T {
  delete obj.metadata?.managedFields;
  return obj;
}

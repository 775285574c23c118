// The PeaSet controller's writes: its own finalizer and status, its members (create, delete,
// release, the drained mark), a draining member's pod label, and the Service and
// PodDisruptionBudget it applies. Each is one call; what to write and when is decide.ts's.
import * as k8s from '@kubernetes/client-node';
import {
  PEASET_DEFAULTS,
  PEASET_KIND,
  PEASET_PLURAL,
  type PeaSet,
  type PeaSetStatus,
} from '../../api/v1alpha1/peaset.js';
import { GROUP, PLURAL, VERSION, type Pea } from '../../api/v1alpha1/types.js';
import { ANNOTATION_LET_GO, DRAIN_FINALIZER } from '../decide.js';
import { ignoreAlreadyExists, ignoreNotFound } from '../errors.js';
import { FIELD_MANAGER } from '../network-policy.js';
import { LABEL_MANAGED, MANAGER, ownedBy } from '../pod.js';
import { canonical } from '../writes.js';
import { ANNOTATION_DRAINED, LABEL_SERVING, podSelector, serviceSelector } from './members.js';

const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const APPLY = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply);

/** The API writes of the PeaSet controller. */
export class PeaSetWrites {
  private readonly custom: k8s.CustomObjectsApi;
  private readonly core: k8s.CoreV1Api;
  private readonly policy: k8s.PolicyV1Api;

  constructor(kc: k8s.KubeConfig) {
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.policy = kc.makeApiClient(k8s.PolicyV1Api);
  }

  /** Adds or removes the PeaSet's finalizer, conditioned on the resourceVersion it was decided on. */
  async setFinalizer(set: PeaSet, present: boolean): Promise<PeaSet | undefined> {
    const others = (set.metadata.finalizers ?? []).filter((f) => f !== DRAIN_FINALIZER);
    const finalizers = present ? [...others, DRAIN_FINALIZER] : others;
    const body = { metadata: { finalizers, resourceVersion: set.metadata.resourceVersion } };
    return (await ignoreNotFound(
      this.custom.patchNamespacedCustomObject({ plural: PEASET_PLURAL, ...at(set), body }, MERGE),
    )) as PeaSet | undefined;
  }

  /** Writes the status if it changed; the PeaSet as returned, or undefined when nothing was written. */
  async patchStatus(set: PeaSet, status: PeaSetStatus): Promise<PeaSet | undefined> {
    if (canonical(set.status ?? {}) === canonical(status)) return undefined;
    const body = { metadata: { resourceVersion: set.metadata.resourceVersion }, status };
    return (await ignoreNotFound(
      this.custom.patchNamespacedCustomObjectStatus({ plural: PEASET_PLURAL, ...at(set), body }, MERGE),
    )) as PeaSet | undefined;
  }

  /** Creates a member Pea; one that exists already (a repeated pass) is fine. */
  async createMember(member: Pea): Promise<Pea | undefined> {
    return (await ignoreAlreadyExists(
      this.custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        namespace: member.metadata.namespace as string,
        body: member,
      }),
    )) as Pea | undefined;
  }

  /** Deletes this very member (its UID: never a successor of the same name); its drain begins. */
  async deleteMember(member: Pea): Promise<void> {
    await ignoreNotFound(
      this.custom.deleteNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        namespace: member.metadata.namespace as string,
        name: member.metadata.name as string,
        body: { preconditions: { uid: member.metadata.uid } },
      }),
    );
  }

  /** Merges metadata into a member, conditioned on its resourceVersion: the drained mark, the finalizer's removal. */
  async patchMember(member: Pea, metadata: object): Promise<Pea | undefined> {
    return (await ignoreNotFound(
      this.custom.patchNamespacedCustomObject(
        {
          group: GROUP,
          version: VERSION,
          plural: PLURAL,
          namespace: member.metadata.namespace as string,
          name: member.metadata.name as string,
          body: { metadata: { ...metadata, resourceVersion: member.metadata.resourceVersion } },
        },
        MERGE,
      ),
    )) as Pea | undefined;
  }

  /** Records when the member's drain could go on to drainSeconds. */
  markDrained(member: Pea, now: Date): Promise<Pea | undefined> {
    return this.patchMember(member, { annotations: { [ANNOTATION_DRAINED]: now.toISOString() } });
  }

  /** Lets go of a drained member: the Pea controller then cancels it and tears it down. */
  letGoMember(member: Pea, now: Date): Promise<Pea | undefined> {
    return this.patchMember(member, { annotations: { [ANNOTATION_LET_GO]: now.toISOString() } });
  }

  /** Releases a member that has ended: without the PeaSet's finalizer, the deleted Pea is gone. */
  releaseMember(member: Pea): Promise<Pea | undefined> {
    const finalizers = (member.metadata.finalizers ?? []).filter((f) => f !== DRAIN_FINALIZER);
    return this.patchMember(member, { finalizers });
  }

  /** Drain step 1: the pod loses the label the Service selects, so it leaves the EndpointSlices. */
  async leaveService(namespace: string, pod: string): Promise<void> {
    await ignoreNotFound(
      this.core.patchNamespacedPod(
        { namespace, name: pod, body: { metadata: { labels: { [LABEL_SERVING]: null } } } },
        MERGE,
      ),
    );
  }

  /** Marks a deleted member pod's drain as past the EndpointSlice wait. */
  async markPodDrained(namespace: string, pod: string, now: Date): Promise<void> {
    await ignoreNotFound(
      this.core.patchNamespacedPod(
        {
          namespace,
          name: pod,
          body: { metadata: { annotations: { [ANNOTATION_DRAINED]: now.toISOString() } } },
        },
        MERGE,
      ),
    );
  }

  /** Server-side applies the PeaSet's Service (named like it, owned by it). */
  async applyService(set: PeaSet): Promise<void> {
    const svc = set.spec.service;
    if (!svc) return;
    const body: k8s.V1Service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: owned(set),
      spec: {
        type: svc.type ?? 'ClusterIP',
        selector: serviceSelector(set),
        ports: svc.ports.map((p) => ({
          ...(p.name ? { name: p.name } : {}),
          port: p.port,
          targetPort: p.targetPort ?? p.port,
          protocol: p.protocol ?? 'TCP',
        })),
      },
    };
    const { name, namespace } = body.metadata as { name: string; namespace: string };
    await this.core.patchNamespacedService(
      { name, namespace, body, fieldManager: FIELD_MANAGER, force: true },
      APPLY,
    );
  }

  /**
   * Server-side applies the PodDisruptionBudget over the members' pods, as minAvailable =
   * replicas − disruption.maxUnavailable (applied again when replicas change: a new
   * generation). Not maxUnavailable: the disruption controller turns that into a count through
   * the scale of the pods' controller, and a pod's controller is its Pea, which has none, so
   * the budget would never sync and allow no eviction at all (seen on kind: every eviction 429).
   */
  async applyDisruptionBudget(set: PeaSet): Promise<void> {
    const maxUnavailable = set.spec.disruption?.maxUnavailable ?? PEASET_DEFAULTS.disruptionMaxUnavailable;
    const replicas = set.spec.replicas ?? PEASET_DEFAULTS.replicas;
    const body: k8s.V1PodDisruptionBudget = {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: owned(set),
      spec: {
        minAvailable: Math.max(0, replicas - maxUnavailable),
        selector: { matchLabels: podSelector(set) },
      },
    };
    const { name, namespace } = body.metadata as { name: string; namespace: string };
    await this.policy.patchNamespacedPodDisruptionBudget(
      { name, namespace, body, fieldManager: FIELD_MANAGER, force: true },
      APPLY,
    );
  }
}

/** The group, version, namespace and name for calls about a PeaSet (its plural named at each call). */
function at(set: PeaSet): Record<'group' | 'version' | 'namespace' | 'name', string> {
  return {
    group: GROUP,
    version: VERSION,
    namespace: set.metadata.namespace as string,
    name: set.metadata.name as string,
  };
}

/** Metadata of an object the PeaSet owns: its name, namespace, our label, an owner reference. */
function owned(set: PeaSet): k8s.V1ObjectMeta {
  return {
    name: set.metadata.name,
    namespace: set.metadata.namespace,
    labels: { [LABEL_MANAGED]: MANAGER, ...podSelector(set) },
    ownerReferences: [ownedBy(set, PEASET_KIND)],
  };
}

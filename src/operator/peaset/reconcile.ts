// Reconcile one PeaSet: read it, its members, their pods and its Service's EndpointSlices
// from the caches, decidePeaSet() (pure), then write. The reconcile contract is the Pea's
// (src/operator/reconcile.ts): undefined waits for a watch event, a number requeues, a throw
// backs off.
import type * as k8s from '@kubernetes/client-node';
import { PEASET_KIND, type PeaSet } from '../../api/v1alpha1/peaset.js';
import type { Pea } from '../../api/v1alpha1/types.js';
import type { Logger } from '../../shared/logger.js';
import type { EventRecorder } from '../events.js';
import { OwnWrites } from '../own-writes.js';
import type { Reconcile } from '../reconcile.js';
import { decidePeaSet, type MemberView, type PeaSetAction } from './decide.js';
import { Expectations } from './expectations.js';
import { grpcAddress, type CancelClient } from '../cancel.js';
import { peaToken } from '../token.js';
import { ANNOTATION_DRAINED, buildMember, LABEL_SERVING, revisionOf } from './members.js';
import type { PeaSetWrites } from './writes.js';

/** What a PeaSet reconcile reads: the informers' caches. */
export interface PeaSetCaches {
  peaSet(namespace: string, name: string): (PeaSet & k8s.KubernetesObject) | undefined;
  members(namespace: string, name: string): Pea[];
  pod(namespace: string, name: string): k8s.V1Pod | undefined;
  slices(namespace: string, service: string): k8s.V1EndpointSlice[];
}

/** How often the Service and PodDisruptionBudget are applied again although the PeaSet did not change. */
export interface PeaSetReconcilerOptions {
  resyncMs: number;
  /** How a drained pod's runtime is cancelled: the Pea controller's client, key and port. */
  cancel: { client: CancelClient; tokenKey: Buffer; grpcPort: number };
  log: Logger;
}

/** The PeaSet reconciler: one pass per key. */
export class PeaSetReconciler {
  private readonly ownWrites = new OwnWrites();
  private readonly expectations = new Expectations();
  /** UIDs of pods whose preStop hold was ended by a Cancel (bounded: pods go). */
  private readonly cancelledPods = new Set<string>();
  /** `key/what` → the uid:generation applied, and when: applied again on a change or after resyncMs. */
  private readonly applied = new Map<string, { version: string; at: number }>();

  constructor(
    private readonly caches: PeaSetCaches,
    private readonly writes: PeaSetWrites,
    private readonly events: EventRecorder,
    private readonly o: PeaSetReconcilerOptions,
  ) {}

  /** One pass for one PeaSet (`namespace/name`). */
  readonly reconcile: Reconcile = async (key) => {
    const [namespace, name] = key.split('/') as [string, string];
    const cached = this.caches.peaSet(namespace, name);
    if (!cached) {
      this.forget(key);
      return undefined; // deleted: its members, Service and budget go with it (owner references)
    }
    if (this.ownWrites.stale(key, cached.metadata?.resourceVersion)) return undefined;
    const members = this.caches.members(namespace, name);
    // Our creates and deletes not in the cache yet: deciding now would repeat them.
    const wait = this.expectations.pending(key, members);
    if (wait !== undefined) return wait;
    let set = structuredClone(cached) as PeaSet;
    const log = this.o.log.child({ peaset: key });
    const d = decidePeaSet(
      set,
      members.map((m) => this.view(set, m)),
      new Date(),
    );
    const has = (kind: PeaSetAction['kind']): boolean => d.actions.some((a) => a.kind === kind);
    if (has('addFinalizer')) set = this.wrote(key, set, await this.writes.setFinalizer(set, true));
    if (has('applyService')) await this.applyOnce(key, 'service', set, () => this.writes.applyService(set));
    if (has('applyDisruptionBudget'))
      await this.applyOnce(key, 'pdb', set, () => this.writes.applyDisruptionBudget(set));
    await this.members(key, set, members, d.actions, log);
    set = this.wrote(key, set, await this.writes.patchStatus(set, d.status));
    for (const ev of d.events) this.events.record(set, ev, log, PEASET_KIND);
    if (has('removeFinalizer')) {
      log.info('every member has stopped: removing the finalizer');
      await this.writes.setFinalizer(set, false);
    }
    return d.requeueAfterMs;
  };

  /** The member writes, all at once: each is about another member, and none depends on another. */
  private async members(key: string, set: PeaSet, members: Pea[], actions: PeaSetAction[], log: Logger) {
    const byName = new Map(members.map((m) => [m.metadata.name as string, m]));
    const revision = revisionOf(set);
    const ns = set.metadata.namespace as string;
    await Promise.all(
      actions.map(async (a) => {
        if (a.kind === 'createMember') {
          const member = buildMember(set, a.ordinal, revision);
          log.info({ member: member.metadata.name, revision }, 'creating member');
          return this.expecting(key, member.metadata.name as string, 'create', () =>
            this.writes.createMember(member),
          );
        }
        if (!('name' in a)) return;
        const m = byName.get(a.name) as Pea;
        if (a.kind === 'deleteMember') {
          log.info({ member: a.name }, 'draining member: it leaves the Service, then is cancelled');
          return this.expecting(key, a.name, 'delete', () => this.writes.deleteMember(m));
        }
        if (a.kind === 'leaveService') return this.writes.leaveService(ns, m.status?.podName as string);
        if (a.kind === 'markDrained') return this.writes.markDrained(m, new Date());
        if (a.kind === 'markPodDrained')
          return this.writes.markPodDrained(ns, m.status?.podName as string, new Date());
        if (a.kind === 'cancelPod') return this.cancelPod(m, log);
        if (a.kind === 'letGoMember') {
          log.info({ member: a.name }, 'member drained: cancelling it');
          return this.writes.letGoMember(m, new Date());
        }
        return this.writes.releaseMember(m);
      }),
    );
  }

  /** A member write, expected in the cache from now on (unless it fails). */
  private async expecting(
    key: string,
    name: string,
    what: 'create' | 'delete',
    write: () => Promise<unknown>,
  ) {
    this.expectations.expect(key, name, what);
    try {
      await write();
    } catch (err) {
      this.expectations.drop(key, name);
      throw err;
    }
  }

  /** What the decision needs to know of a member: whether its pod is still in the Service, and listed. */
  private view(set: PeaSet, pea: Pea): MemberView {
    const ns = set.metadata.namespace as string;
    const podName = pea.status?.podName;
    const pod = podName ? this.caches.pod(ns, podName) : undefined;
    const inService = pod?.metadata?.labels?.[LABEL_SERVING] === 'true';
    const listed =
      podName !== undefined &&
      this.caches.slices(ns, set.metadata.name as string).some((s) =>
        (s.endpoints ?? []).some((e) => {
          if (e.targetRef?.name !== podName) return false;
          // Unset conditions mean ready (and serving as ready), as the EndpointSlice API says.
          const ready = e.conditions?.ready ?? true;
          return ready || (e.conditions?.serving ?? ready);
        }),
      );
    // Its pod is going while the member stays: an eviction or a `kubectl delete pod`.
    const stopping = pod?.metadata?.deletionTimestamp && !pea.metadata.deletionTimestamp;
    const drained = pod?.metadata?.annotations?.[ANNOTATION_DRAINED];
    const podStopping = stopping
      ? {
          // A pod's deletionTimestamp is when its grace period ends: it was deleted that much earlier.
          since: new Date(
            new Date(pod.metadata!.deletionTimestamp!).getTime() -
              (pod.metadata?.deletionGracePeriodSeconds ?? 0) * 1000,
          ),
          ...(drained ? { drained: new Date(drained) } : {}),
        }
      : undefined;
    return { pea, inService, listed, ...(podStopping ? { podStopping } : {}) };
  }

  /** Ends the preStop hold of a member's pod that is being deleted: Cancel, once per pod. */
  private async cancelPod(member: Pea, log: Logger): Promise<void> {
    const pod = this.caches.pod(member.metadata.namespace as string, member.status?.podName ?? '');
    const uid = pod?.metadata?.uid;
    const ip = pod?.status?.podIP;
    if (!uid || !ip || this.cancelledPods.has(uid)) return;
    this.cancelledPods.add(uid);
    const token = peaToken(this.o.cancel.tokenKey, member);
    const address = grpcAddress(ip, this.o.cancel.grpcPort);
    log.info(
      { member: member.metadata.name, pod: pod.metadata?.name },
      'pod drained: cancelling its runtime',
    );
    await this.o.cancel.client.cancel(address, token, 'pod deleted, drained', log);
  }

  /** Applies the Service or the budget once per PeaSet generation, and again after resyncMs. */
  private async applyOnce(key: string, what: string, set: PeaSet, apply: () => Promise<void>): Promise<void> {
    const version = `${set.metadata.uid}:${set.metadata.generation}`;
    const last = this.applied.get(`${key}/${what}`);
    if (last?.version === version && Date.now() - last.at < this.o.resyncMs) return;
    await apply();
    this.applied.set(`${key}/${what}`, { version, at: Date.now() });
  }

  private wrote(key: string, set: PeaSet, written: PeaSet | undefined): PeaSet {
    const before = set.metadata.resourceVersion;
    if (!written || written.metadata.resourceVersion === before) return set;
    this.ownWrites.wrote(key, before);
    return written;
  }

  private forget(key: string): void {
    this.ownWrites.forget(key);
    this.expectations.forget(key);
    for (const k of [...this.applied.keys()]) if (k.startsWith(`${key}/`)) this.applied.delete(k);
  }
}

// What this operator has written and its caches do not show yet: controller-runtime's
// "expectations", as the ReplicaSet controller keeps them. A cache lags the API server by one
// watch event; a reconcile in that gap decides on the older copy and repeats the write: a
// status patch that meets a 409 conflict and a backoff, or a pod create that meets a 409.
// Entries expire, so a lost watch event can delay a Pea but never strand it.
import type { V1Pod } from '@kubernetes/client-node';
import type { Pea } from '../api/v1alpha1/types.js';
import { podName, trimPod } from './pod.js';

/** How long a write is remembered at most: a lost watch event delays a Pea by this much, never more. */
export const OWN_WRITES_TTL_MS = 30_000;

/** The operator's own writes that its caches do not show yet, per Pea key. */
export class OwnWrites {
  private readonly superseded = new Map<string, { versions: Set<string>; at: number }>();
  private readonly pods = new Map<string, { pod: V1Pod; at: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** We wrote over this resourceVersion of the Pea: a cache that shows it is behind. */
  wrote(key: string, resourceVersion: string | undefined): void {
    if (!resourceVersion) return;
    const entry = this.superseded.get(key) ?? { versions: new Set<string>(), at: 0 };
    entry.versions.add(resourceVersion);
    entry.at = this.now();
    this.superseded.set(key, entry);
  }

  /** Whether the cached Pea is one we have already written over. */
  stale(key: string, resourceVersion: string | undefined): boolean {
    const entry = this.superseded.get(key);
    if (!entry) return false;
    if (
      resourceVersion !== undefined &&
      entry.versions.has(resourceVersion) &&
      this.now() - entry.at < OWN_WRITES_TTL_MS
    )
      return true;
    this.superseded.delete(key);
    return false;
  }

  /** We created this pod; kept (metadata and status only) until the pod cache shows it. */
  created(key: string, pod: V1Pod): void {
    this.pods.set(key, { pod: trimPod(pod), at: this.now() });
  }

  /** The cached pod; else the one we just created for this very Pea and run, if the cache lags. */
  pod(key: string, pea: Pea, cached: V1Pod | undefined): V1Pod | undefined {
    const entry = this.pods.get(key);
    if (!entry) return cached;
    // After a restart the Pea's current pod has a new name: an earlier run's pod is not it.
    const ours =
      entry.pod.metadata?.ownerReferences?.some((r) => r.uid === pea.metadata.uid) &&
      entry.pod.metadata?.name === podName(pea);
    if (cached || !ours || this.now() - entry.at >= OWN_WRITES_TTL_MS) {
      this.pods.delete(key);
      return cached;
    }
    return entry.pod;
  }

  forget(key: string): void {
    this.superseded.delete(key);
    this.pods.delete(key);
  }
}

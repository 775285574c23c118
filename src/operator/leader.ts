// Leader election on a coordination.k8s.io Lease, as client-go does it: acquire when the
// lease is free or expired, renew every retry period, and give up leadership (the process
// exits, so nothing acts twice) when renewing fails past the renew deadline.
import * as k8s from '@kubernetes/client-node';
import type { Logger } from '../shared/logger.js';
import { isNotFound } from './errors.js';

/** The Lease to hold, who this replica is, and client-go's three durations. */
export interface LeaderOptions {
  kc: k8s.KubeConfig;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  log: Logger;
}

/** Leader election on a Lease: run() resolves once this process leads. */
export class LeaderElector {
  private readonly api: k8s.CoordinationV1Api;
  private timer: NodeJS.Timeout | undefined;
  private lastRenew = 0;
  private leading = false;

  constructor(private readonly o: LeaderOptions) {
    this.api = o.kc.makeApiClient(k8s.CoordinationV1Api);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Resolves once this process leads; calls onLost if it stops leading later. */
  run(onLost: () => void): Promise<void> {
    return new Promise((resolve) => {
      const tick = async (): Promise<void> => {
        const ok = await this.tryAcquireOrRenew().catch((err) => {
          this.o.log.warn({ err }, 'lease update failed');
          return false;
        });
        if (ok) {
          this.lastRenew = Date.now();
          if (!this.leading) {
            this.leading = true;
            this.o.log.info(
              { lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity },
              'became leader',
            );
            resolve();
          }
        } else if (this.leading && Date.now() - this.lastRenew > this.o.renewDeadlineMs) {
          this.leading = false;
          this.o.log.error('lost the leader lease; stopping so that only one operator acts');
          onLost();
          return;
        }
        this.timer = setTimeout(() => void tick(), this.o.retryPeriodMs);
      };
      void tick();
    });
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new k8s.V1MicroTime();
    const { namespace, name, identity, leaseDurationSeconds } = this.o;
    let lease: k8s.V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ namespace, name });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.api.createNamespacedLease({
        namespace,
        body: {
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: 0,
          },
        },
      });
      return true;
    }
    const spec = lease.spec ?? {};
    const expired =
      !spec.holderIdentity ||
      !spec.renewTime ||
      new Date(spec.renewTime).getTime() + (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000 <
        Date.now();
    if (spec.holderIdentity !== identity && !expired) return false;
    const transitions = (spec.leaseTransitions ?? 0) + (spec.holderIdentity === identity ? 0 : 1);
    // Replace carries the resourceVersion we read: a concurrent writer makes this fail.
    await this.api.replaceNamespacedLease({
      namespace,
      name,
      body: {
        ...lease,
        spec: {
          ...spec,
          holderIdentity: identity,
          leaseDurationSeconds,
          renewTime: now,
          acquireTime: spec.holderIdentity === identity ? spec.acquireTime : now,
          leaseTransitions: transitions,
        },
      },
    });
    return true;
  }

  /** Hands the lease over at once instead of letting it expire. */
  async release(): Promise<void> {
    clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.api.readNamespacedLease({ namespace: this.o.namespace, name: this.o.name });
      if (lease.spec?.holderIdentity !== this.o.identity) return;
      await this.api.replaceNamespacedLease({
        namespace: this.o.namespace,
        name: this.o.name,
        body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } },
      });
    } catch (err) {
      this.o.log.warn({ err }, 'could not release the lease; it expires by itself');
    }
  }
}

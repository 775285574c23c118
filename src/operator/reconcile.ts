// Reconcile one Pea: read it and its pod from the caches, decide() (pure), then write the
// difference in the order that keeps a restart at any point safe.
import type * as k8s from '@kubernetes/client-node';
import type { Pea } from '../api/v1alpha1/types.js';
import type { Logger } from '../shared/logger.js';
import { OperatorReason } from '../shared/words.js';
import { grpcAddress, type CancelClient } from './cancel.js';
import { decide, podRejected, readStatus, type Action, type Decision } from './decide.js';
import { describe, TerminalError } from './errors.js';
import type { EventRecorder } from './events.js';
import type { Metrics } from './metrics.js';
import { OncePerProcess } from './once.js';
import { OwnWrites } from './own-writes.js';
import { podName, tokenSecretName } from './pod.js';
import { peaToken } from './token.js';
import { refusedForSpec, type PeaWrites } from './writes.js';

/**
 * The reconcile contract, as controller-runtime's pkg/reconcile states its own; the worker
 * loop (workers.ts) keeps it for every key:
 * - resolves `undefined`: the Pea is where decide() wants it, or waits on a watch event
 *   (its own write's, its pod's) that brings the key back; a periodic resync looks again.
 * - resolves a number: reconcile again after that many milliseconds, even if nothing
 *   changes (a deadline: the ready timeout, the cancel deadline, a restart's back-off).
 * - throws: retried with a per-key exponential back-off (100 ms, doubling, up to 60 s);
 *   a 409 conflict only means the cache was behind, and is logged at debug.
 * - throws a TerminalError: retrying cannot help; logged and not retried, the key comes
 *   back with the Pea's next change (or the resync). reconcile() itself turns the one it
 *   knows, a refused pod, into a Failed Pea, so none escapes it today.
 */
export type Reconcile = (key: string) => Promise<number | undefined>;

/** What a reconcile reads: the informers' caches. */
export interface Caches {
  pea(namespace: string, name: string): (Pea & k8s.KubernetesObject) | undefined;
  pod(namespace: string, name: string): k8s.V1Pod | undefined;
}

/** Where a Pea's sidecar listens for Cancel, and the key its token is derived from. */
export interface ReconcilerOptions {
  grpcPort: number;
  /** Derives each Pea's control token (token.ts). */
  tokenKey: Buffer;
  /** Puts the Pea NetworkPolicy into a namespace before its first pod (network-policy.ts). */
  networkPolicies?: { ensure(namespace: string): Promise<void> };
  log: Logger;
}

/** The Pea reconciler: one pass per key, by the contract above. */
export class Reconciler {
  private readonly ownWrites = new OwnWrites();
  /** The Cancel and the token Secret of each live Pea, sent once per process (once.ts). */
  private readonly once = new OncePerProcess();
  /** Set by the caller when metrics are served: told of every status write that went through. */
  metrics?: Pick<Metrics, 'transition'>;

  constructor(
    private readonly caches: Caches,
    private readonly writes: PeaWrites,
    private readonly cancels: CancelClient,
    private readonly events: EventRecorder,
    private readonly o: ReconcilerOptions,
  ) {}

  /** One pass for one Pea (`namespace/name`); see Reconcile for what it resolves and throws. */
  readonly reconcile: Reconcile = async (key) => {
    const [namespace, name] = key.split('/') as [string, string];
    const cached = this.caches.pea(namespace, name);
    if (!cached) {
      this.ownWrites.forget(key);
      this.once.forget(key);
      return undefined; // deleted; its pod goes with it (owner reference)
    }
    // Our own last write has not reached the cache yet: deciding on the older copy would
    // repeat it and meet a conflict. That write's watch event brings the key back.
    if (this.ownWrites.stale(key, cached.metadata?.resourceVersion)) return undefined;
    let pea = structuredClone(cached) as Pea;
    const log = this.o.log.child({ pea: key });
    let pod = this.ownWrites.pod(key, pea, this.ownedPod(pea));
    let d = decide(pea, pod, new Date());
    if (wants(d, 'removeFinalizer')) {
      // First: the writes below then carry the resourceVersion it returned.
      const patched = await this.writes.removeLegacyFinalizer(pea);
      this.wrote(key, pea, patched);
      if (!patched) return undefined;
      pea = patched;
    }
    if (wants(d, 'createPod')) {
      const started = await this.startPea(key, pea, d, log);
      if (!started) return undefined;
      ({ pea, pod } = started);
      // Decide again on what those writes returned: the first status goes out in this pass
      // instead of waiting for the pod's watch event.
      d = decide(pea, pod, new Date());
    }
    const uid = pea.metadata.uid as string;
    if (wants(d, 'createTokenSecret')) {
      await this.once.run('tokenSecret', key, uid, () => this.writes.createTokenSecret(pea));
    }
    for (const a of d.actions) {
      if (a.kind !== 'deletePod') continue;
      log.info({ pod: a.name }, 'deleting pod');
      await this.writes.deletePod(pea, a.name);
    }
    await this.writeStatus(key, pea, d);
    // After the write: had Cancel gone first and the write been lost (operator killed, API
    // server down), the runtime's exit would later read as its own end, not a cancel.
    if (wants(d, 'cancelRpc')) await this.once.run('cancel', key, uid, () => this.cancel(pea, log));
    if (d.status.phase === 'Succeeded' || d.status.phase === 'Failed') this.once.forget(key);
    for (const ev of d.events) this.events.record(pea, ev, log);
    return d.requeueAfterMs;
  };

  /**
   * Creates the pod (no finalizer: a deleted Pea's pod is deleted by the garbage collector
   * and its preStop hook cancels the runtime). Resolves the Pea and pod as the API server
   * returned them, or undefined when the pod was refused and the Pea failed.
   */
  private async startPea(key: string, pea: Pea, d: Decision, log: Logger): Promise<Started | undefined> {
    try {
      const created = await this.createPod(key, pea, d, log);
      if (created) this.ownWrites.created(key, created);
      return { pea, pod: created ?? this.ownedPod(pea) };
    } catch (err) {
      if (!(err instanceof TerminalError)) throw err;
      const r = podRejected(pea, err.message, new Date());
      await this.writeStatus(key, pea, r);
      for (const ev of r.events) this.events.record(pea, ev, log);
      return undefined;
    }
  }

  /**
   * The pod as created (undefined if it existed already), with its token Secret: always
   * written with a new pod, whatever once.ts remembers (someone may have deleted it).
   */
  private async createPod(key: string, pea: Pea, d: Decision, log: Logger): Promise<k8s.V1Pod | undefined> {
    const createSecret = async (): Promise<void> => {
      await this.writes.createTokenSecret(pea);
      this.once.did('tokenSecret', key, pea.metadata.uid as string);
    };
    await this.o.networkPolicies?.ensure(pea.metadata.namespace as string);
    try {
      // Together: the kubelet waits for the pod's Secret volume, and a Secret that already
      // exists (a restart, or someone re-created it) holds the same derived token.
      const [pod] = await Promise.all([
        this.writes.createPod(pea, log),
        wants(d, 'createTokenSecret') ? createSecret() : undefined,
      ]);
      return pod;
    } catch (err) {
      const refused = refusedForSpec(pea, err);
      if (refused) throw refused;
      // Until the pod exists the Pea has no status to show this in; an event does.
      const message = `could not create pod ${podName(pea)}: ${describe(err)}`;
      this.events.record(pea, { type: 'Warning', reason: OperatorReason.FailedCreatePod, message }, log);
      throw err;
    }
  }

  private async writeStatus(key: string, pea: Pea, d: Decision): Promise<void> {
    const written = await this.writes.patchStatus(pea, d.status);
    this.wrote(key, pea, written);
    // Counted once the API server took it: a write lost to a conflict is decided (and counted) again.
    if (written?.status) this.metrics?.transition(readStatus(pea.status).status, written.status);
  }

  /** Remembers a write over `pea` until the cache shows it (own-writes.ts). */
  private wrote(key: string, pea: Pea, written: Pea | undefined): void {
    // A patch that changed nothing keeps the resourceVersion: no watch event will follow it.
    const before = pea.metadata.resourceVersion;
    if (written && written.metadata.resourceVersion !== before) this.ownWrites.wrote(key, before);
  }

  /** Cancel on the pod IP; failing that, the pod's deletion (its preStop hook cancels too). */
  private async cancel(pea: Pea, log: Logger): Promise<void> {
    const ip = this.ownedPod(pea)?.status?.podIP;
    if (!ip) {
      log.info('no pod IP yet: deleting the pod instead of calling Cancel');
      return this.writes.deletePod(pea, podName(pea));
    }
    const address = grpcAddress(ip, this.o.grpcPort);
    const reason = pea.metadata.deletionTimestamp ? 'Pea deleted' : 'spec.cancel';
    const outcome = await this.cancels.cancel(address, peaToken(this.o.tokenKey, pea), reason, log);
    if (outcome === 'unauthenticated') {
      // Waiting would strand the Pea for cancelSeconds. Deleting the pod runs the same
      // cancel -> teardown through its preStop hook.
      const message =
        `the sidecar refused the Pea's control token (was Secret ${tokenSecretName(pea)} changed?); ` +
        'deleting the pod, whose preStop hook cancels and tears down the runtime';
      this.events.record(
        pea,
        { type: 'Warning', reason: OperatorReason.CancelUnauthenticated, message },
        log,
      );
      return this.writes.deletePod(pea, podName(pea));
    }
    if (outcome === 'unreachable') {
      const message =
        `the runtime sidecar at ${address} did not answer Cancel; ` +
        'the pod is deleted when spec.timeouts.cancelSeconds runs out';
      this.events.record(pea, { type: 'Warning', reason: OperatorReason.CancelUnreachable, message }, log);
    }
  }

  /** The Pea's pod from the cache, only if it is really this Pea's (same UID). */
  private ownedPod(pea: Pea): k8s.V1Pod | undefined {
    const pod = this.caches.pod(pea.metadata.namespace as string, podName(pea));
    return pod?.metadata?.ownerReferences?.some((r) => r.uid === pea.metadata.uid) ? pod : undefined;
  }
}

type Started = { pea: Pea; pod: k8s.V1Pod | undefined };

const wants = (d: Decision, kind: Action['kind']): boolean => d.actions.some((a) => a.kind === kind);

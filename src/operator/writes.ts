// The operator's writes to the API server for one Pea: its pod, its token Secret, its
// status (and an older operator's finalizer, taken off). Each is one call and keeps no
// memory; what to write, and when, is the reconciler's (reconcile.ts). Writes that replace
// state carry the resourceVersion they were decided on, so a decision taken on a stale cache
// meets 409 and is taken again.
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type Pea, type PeaStatus } from '../api/v1alpha1/types.js';
import type { Logger } from '../shared/logger.js';
import { LEGACY_FINALIZER } from './decide.js';
import { apiMessage, ignoreAlreadyExists, ignoreNotFound, statusCode, TerminalError } from './errors.js';
import { JsonCoreApi } from './json-api.js';
import { buildPod, podName, type PodOptions } from './pod.js';
import { buildTokenSecret, hookToken } from './token.js';

const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

/** The API writes of the Pea controller. */
export class PeaWrites {
  private readonly custom: k8s.CustomObjectsApi;
  private readonly core: k8s.CoreV1Api;
  /** The pod and the Secret, sent as plain JSON (json-api.ts). */
  private readonly json: JsonCoreApi;

  constructor(
    kc: k8s.KubeConfig,
    private readonly pod: PodOptions,
    private readonly tokenKey: Buffer,
  ) {
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.json = new JsonCoreApi(kc);
  }

  /** Takes LEGACY_FINALIZER off; the Pea as it is after the patch (undefined if it is gone). */
  async removeLegacyFinalizer(pea: Pea): Promise<Pea | undefined> {
    const finalizers = (pea.metadata.finalizers ?? []).filter((f) => f !== LEGACY_FINALIZER);
    // resourceVersion makes this a compare-and-swap: a conflict retries with fresh state.
    return (await ignoreNotFound(
      this.custom.patchNamespacedCustomObject(
        {
          group: GROUP,
          version: VERSION,
          plural: PLURAL,
          ...where(pea),
          body: { metadata: { finalizers, resourceVersion: pea.metadata.resourceVersion } },
        },
        MERGE,
      ),
    )) as Pea | undefined;
  }

  /** The pod as created (undefined if it existed already); see refusedForSpec for a refusal. */
  async createPod(pea: Pea, log: Logger): Promise<k8s.V1Pod | undefined> {
    log.info({ pod: podName(pea) }, 'creating pod');
    const body = buildPod(pea, hookToken(this.tokenKey, pea), this.pod);
    return ignoreAlreadyExists(this.json.createNamespacedPod({ namespace: where(pea).namespace, body }));
  }

  /** Deletes a pod of the Pea; one already gone is fine. */
  async deletePod(pea: Pea, name: string): Promise<void> {
    await ignoreNotFound(
      this.core.deleteNamespacedPod({ namespace: pea.metadata.namespace as string, name }),
    );
  }

  /** Creates the Pea's token Secret; one that exists already holds the same derived token. */
  async createTokenSecret(pea: Pea): Promise<void> {
    const body = buildTokenSecret(pea, this.tokenKey);
    await ignoreAlreadyExists(
      this.json.createNamespacedSecret({ namespace: pea.metadata.namespace as string, body }),
    );
  }

  /**
   * Writes `status` if it differs from the Pea's; the Pea as the API server returned it, or
   * undefined when nothing was written or the Pea is gone.
   */
  async patchStatus(pea: Pea, status: PeaStatus): Promise<Pea | undefined> {
    if (canonical(pea.status ?? {}) === canonical(status)) return undefined;
    // resourceVersion makes the write conditional: a decision taken on a stale cached Pea
    // (say, its pod's deletion seen before our own last status write) gets 409 and is
    // retried on fresh state instead of overwriting a newer status.
    // A merge patch keeps keys it does not mention: null removes the ones decide() dropped.
    const old =
      typeof pea.status === 'object' && pea.status !== null && !Array.isArray(pea.status) ? pea.status : {};
    const removed = Object.fromEntries(
      Object.keys(old)
        .filter((k) => !(k in status))
        .map((k) => [k, null]),
    );
    return (await ignoreNotFound(
      this.custom.patchNamespacedCustomObjectStatus(
        {
          group: GROUP,
          version: VERSION,
          plural: PLURAL,
          ...where(pea),
          body: {
            metadata: { resourceVersion: pea.metadata.resourceVersion },
            status: { ...removed, ...status },
          },
        },
        MERGE,
      ),
    )) as Pea | undefined;
  }
}

/**
 * A TerminalError saying so when the API server refused the Pea's pod, or the Secret created
 * with it, for the Pea's spec; undefined for a failure that may pass. 422: a field the API
 * server cannot take (a name too long for a label refuses both). 400: a body it cannot even
 * decode (a field of the wrong type, from an older CRD or a hand edit: the pod is sent as
 * plain JSON, so nothing coerces it on the way). 403 from PodSecurity
 * admission: the Pea asks for more than its namespace allows. Both are facts about the spec,
 * so the Pea fails and says why. Other 403s (RBAC, quota) may pass later and are retried.
 */
export function refusedForSpec(pea: Pea, err: unknown): TerminalError | undefined {
  const code = statusCode(err);
  const spec = code === 422 || code === 400 || (code === 403 && /violates PodSecurity/.test(apiMessage(err)));
  if (!spec) return undefined;
  const message =
    `could not create pod ${podName(pea)}: ${apiMessage(err)}; ` +
    "fix the Pea's spec, then delete it and create it again";
  return new TerminalError(message, { cause: err });
}

/** The namespace and name of a Pea, for calls about it. */
function where(pea: Pea): { namespace: string; name: string } {
  return { namespace: pea.metadata.namespace as string, name: pea.metadata.name as string };
}

/** JSON with sorted keys: the API server returns a status's keys in its own order. */
export function canonical(value: unknown): string {
  const sorted = (v: object): object =>
    Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)));
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? sorted(v) : v,
  );
}

// A PeaSet's members, as pure functions of the PeaSet: their names, labels, revision and the
// Pea each one is created as; and what the operator reads back off a member Pea.
import { createHash } from 'node:crypto';
import type { V1EnvVar } from '@kubernetes/client-node';
import { API_VERSION, ConditionType, KIND, type Pea } from '../../api/v1alpha1/types.js';
import { PEASET_DEFAULTS, PEASET_KIND, type PeaSet } from '../../api/v1alpha1/peaset.js';
import { DRAIN_FINALIZER } from '../decide.js';
import { ANNOTATION_PRESTOP_HOLD, LABEL_MANAGED, MANAGER, ownedBy } from '../pod.js';

/** On member Peas and their pods: the PeaSet's name. status.selector selects pods by it. */
export const LABEL_PEASET = 'peapods.io/peaset';
/** On member Peas: the member's ordinal. */
export const LABEL_ORDINAL = 'peapods.io/ordinal';
/** On member Peas: the hash of the template the member was created from. */
export const LABEL_REVISION = 'peapods.io/revision';
/**
 * On a member's pod while it may take traffic: the Service selects it. Draining takes it off,
 * so the EndpointSlice controller drops the pod from the Service before it stops.
 */
export const LABEL_SERVING = 'peapods.io/serving';
/** How long a draining member waits for the EndpointSlices to drop it before it is stopped anyway. */
export const ENDPOINTS_WAIT_SECONDS = 30;
/** Beyond the drain itself, what a member pod's preStop hold leaves for the operator's Cancel to arrive. */
const HOLD_MARGIN_SECONDS = 5;

/**
 * On a member Pea (or its pod, when only the pod stops): when the Service's EndpointSlices
 * stopped listing it (or the wait for that ran out).
 */
export const ANNOTATION_DRAINED = 'peapods.io/drained';

/** What each member's runtime finds in its environment. */
export const ENV = { name: 'PEASET_NAME', index: 'PEASET_INDEX', replicas: 'PEASET_REPLICAS' } as const;

/** The name of the member with this ordinal: NAME-ORDINAL, as a StatefulSet's pods. */
export const memberName = (set: PeaSet, ordinal: number): string => `${set.metadata.name}-${ordinal}`;

/** The selector of the members' pods (status.selector, for /scale and the PodDisruptionBudget). */
export const podSelector = (set: PeaSet): Record<string, string> => ({
  [LABEL_PEASET]: set.metadata.name as string,
});

/** The Service's selector: the members' pods that have not started to drain. */
export const serviceSelector = (set: PeaSet): Record<string, string> => ({
  ...podSelector(set),
  [LABEL_SERVING]: 'true',
});

/** The template's revision: a short hash of what a member is created from. */
export function revisionOf(set: PeaSet): string {
  const json = JSON.stringify(set.spec.template, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
  return createHash('sha256').update(json).digest('hex').slice(0, 10);
}

/** The member Pea with this ordinal, as created; `replicas` is spec.replicas at that moment. */
export function buildMember(set: PeaSet, ordinal: number, revision: string): Pea {
  const { metadata: meta = {}, spec } = set.spec.template;
  const name = set.metadata.name as string;
  const env: V1EnvVar[] = [
    ...(spec.env ?? []),
    { name: ENV.name, value: name },
    { name: ENV.index, value: String(ordinal) },
    { name: ENV.replicas, value: String(set.spec.replicas ?? 1) },
  ];
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name: memberName(set, ordinal),
      namespace: set.metadata.namespace,
      labels: {
        ...meta.labels,
        [LABEL_PEASET]: name,
        [LABEL_ORDINAL]: String(ordinal),
        [LABEL_REVISION]: revision,
        [LABEL_MANAGED]: MANAGER,
      },
      // Its pod's preStop holds for the operator's drain: an eviction drains too.
      annotations: {
        ...meta.annotations,
        [ANNOTATION_PRESTOP_HOLD]: String(
          ENDPOINTS_WAIT_SECONDS +
            (set.spec.drainSeconds ?? PEASET_DEFAULTS.drainSeconds) +
            HOLD_MARGIN_SECONDS,
        ),
      },
      // The PeaSet's hold: a deleted member keeps running until it is drained.
      finalizers: [DRAIN_FINALIZER],
      ownerReferences: [ownedBy(set, PEASET_KIND)],
    },
    spec: {
      ...spec,
      env,
      cancel: false,
      restartPolicy: 'Always',
      pod: { ...spec.pod, labels: { ...spec.pod?.labels, ...serviceSelector(set) } },
    },
  };
}

/** The member's ordinal, from its label (undefined for a Pea that is not a well-formed member). */
export function ordinalOf(pea: Pea): number | undefined {
  const raw = pea.metadata.labels?.[LABEL_ORDINAL];
  const n = Number(raw);
  return raw !== undefined && /^\d+$/.test(raw) && Number.isSafeInteger(n) ? n : undefined;
}

/** Since when the member has been Ready, or undefined when it is not Ready now. */
export function readySince(pea: Pea): Date | undefined {
  const conditions = Array.isArray(pea.status?.conditions) ? pea.status.conditions : [];
  const c = conditions.find((x) => x?.type === ConditionType.Ready);
  if (c?.status !== 'True') return undefined;
  const t = new Date(c.lastTransitionTime);
  return Number.isNaN(t.getTime()) ? new Date(0) : t;
}

/** Whether the member's runtime has ended for good (a ready timeout, an invalid spec, a cancel). */
export const memberEnded = (pea: Pea): boolean =>
  pea.status?.phase === 'Succeeded' || pea.status?.phase === 'Failed';

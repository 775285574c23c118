// The PeaSet API, version v1alpha1: the one source, as types.ts is the Pea's. A PeaSet keeps
// `replicas` Peas (its members NAME-0 … NAME-(n-1)) from one template, behind an optional
// Service, with a /scale subresource, a PodDisruptionBudget and rolling updates. Every field
// is declared once here with TypeBox; the TypeScript types, the CRD's schema (descriptions,
// defaults, CEL rules) and the CRD itself (peaset-crd.ts) derive from it.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { V1ObjectMeta } from '@kubernetes/client-node';
import {
  customResourceDefinition,
  either,
  int32,
  int64,
  stringEnum,
  stringMap,
  type CelRule,
  type Json,
} from '../openapi.js';
import { ConditionSchema, GROUP, PeaSpecSchema, VERSION } from './types.js';

/** The PeaSet's kind. */
export const PEASET_KIND = 'PeaSet';
/** The PeaSet's resource name, as in /apis/peapods.io/v1alpha1/namespaces/NS/peasets. */
export const PEASET_PLURAL = 'peasets';

/** How a template change reaches the members. */
export const UPDATE_STRATEGIES = ['Surge', 'Replace'] as const;
/** spec.updateStrategy.type. */
export type UpdateStrategyType = (typeof UPDATE_STRATEGIES)[number];

/** The PeaSet's condition types: `kubectl wait --for=condition=Available peaset/x` works. */
export const PeaSetCondition = {
  /** True while at least replicas − maxUnavailable members are available. */
  Available: 'Available',
  /** True while a rollout or scale moves on, or is done; False with ProgressDeadlineExceeded when stuck. */
  Progressing: 'Progressing',
} as const;

/** What a PeaSet sets none of, as the CRD's defaults (so `kubectl get -o yaml` shows them). */
export const PEASET_DEFAULTS = {
  replicas: 1,
  drainSeconds: 5,
  minReadySeconds: 0,
  progressDeadlineSeconds: 600,
  maxSurge: 1,
  disruptionMaxUnavailable: 1,
};

/**
 * The longest PeaSet name: members are Peas named NAME-ORDINAL, and a Pea's name is at most
 * 52 characters (MAX_NAME_LENGTH in types.ts); 45 leaves a dash and six digits of ordinal.
 */
export const MAX_PEASET_NAME_LENGTH = 45;
/** The most replicas: six digits of ordinal, with the surge. */
export const MAX_REPLICAS = 99_000;

// The Pea's rules that refuse a change to a running Pea (self == oldSelf) have no place in a
// template, which changes to roll its members; its other rules stay.
function withoutTransitionRules(node: TSchema): TSchema {
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'x-kubernetes-validations') {
      const kept = (v as CelRule[]).filter((r) => !r.rule.includes('oldSelf'));
      if (kept.length > 0) out[k] = kept;
    } else if (k === 'properties') {
      out[k] = Object.fromEntries(
        Object.entries(v as Record<string, TSchema>).map(([n, s]) => [n, withoutTransitionRules(s)]),
      );
    } else if (k === 'items' && typeof v === 'object') out[k] = withoutTransitionRules(v as TSchema);
    else out[k] = v;
  }
  return out as TSchema;
}

const MemberSpecSchema = Type.Unsafe<Static<typeof PeaSpecSchema>>({
  ...withoutTransitionRules(PeaSpecSchema),
  description:
    "The members' Pea spec. A change rolls the members by spec.updateStrategy. Members always restart " +
    '(restartPolicy Always is set on each); cancel cannot be set here: scale down instead.',
  'x-kubernetes-validations': [
    { rule: '!has(self.cancel) || !self.cancel', message: 'spec.template.spec.cancel: scale down instead' },
  ],
});

const TemplateSchema = Type.Object(
  {
    metadata: Type.Optional(
      Type.Object(
        {
          labels: Type.Optional(stringMap('Labels on each member Pea (not its pod: use spec.pod.labels).')),
          annotations: Type.Optional(stringMap('Annotations on each member Pea.')),
        },
        { description: 'Labels and annotations of the member Peas.' },
      ),
    ),
    spec: MemberSpecSchema,
  },
  { description: 'The member Peas: each is created from this template.' },
);

const count = (what: string) => int32(what, { minimum: 0, maximum: MAX_REPLICAS });

const UpdateStrategySchema = Type.Object(
  {
    type: Type.Optional(
      stringEnum(
        UPDATE_STRATEGIES,
        'Surge: a new member is Ready before an old one drains (needs room for maxSurge more pods). Replace: ' +
          'an old member drains first, then its successor starts in the same place (ordinal); for scarce ' +
          'accelerators, as no extra pod is needed.',
        { default: 'Surge' },
      ),
    ),
    maxSurge: Type.Optional(
      count(`Surge only: how many members above spec.replicas may exist during an update (default 1).`),
    ),
    maxUnavailable: Type.Optional(
      count(
        'How many of spec.replicas may be unavailable during an update or scale-down: 0 by default for ' +
          'Surge, 1 for Replace.',
      ),
    ),
  },
  {
    description: 'How a template change rolls the members.',
    default: {},
    'x-kubernetes-validations': [
      {
        rule: "!has(self.type) || self.type != 'Replace' || !has(self.maxSurge) || self.maxSurge == 0",
        message: 'spec.updateStrategy.maxSurge: Replace starts no extra member; use Surge',
      },
      {
        rule:
          "has(self.type) && self.type == 'Replace' ? (!has(self.maxUnavailable) || self.maxUnavailable > 0) " +
          ': ((has(self.maxSurge) ? self.maxSurge : 1) + (has(self.maxUnavailable) ? self.maxUnavailable : 0) > 0)',
        message:
          'spec.updateStrategy.maxUnavailable: with maxSurge 0 it must be at least 1, ' +
          'or no member could ever be updated',
      },
    ],
  },
);
/** spec.updateStrategy. */
export type UpdateStrategy = Static<typeof UpdateStrategySchema>;

const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;
const SERVICE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer'] as const;

const ServicePortSchema = Type.Object(
  {
    name: Type.Optional(Type.String({ description: 'Name of the port; required when there are several.' })),
    port: int32('Port the Service listens on.', { minimum: 1, maximum: 65535 }),
    targetPort: Type.Optional(
      int32("Port of the runtime in the member's pod; port when unset.", { minimum: 1, maximum: 65535 }),
    ),
    protocol: Type.Optional(stringEnum(PROTOCOLS, `${either(PROTOCOLS)}.`, { default: 'TCP' })),
  },
  { description: 'One port of the Service.' },
);

const ServiceSchema = Type.Object(
  {
    type: Type.Optional(
      stringEnum(SERVICE_TYPES, `Type of the Service: ${either(SERVICE_TYPES)}.`, { default: 'ClusterIP' }),
    ),
    ports: Type.Array(ServicePortSchema, {
      description: 'Ports of the Service.',
      minItems: 1,
      'x-kubernetes-list-type': 'atomic',
    }),
  },
  {
    description:
      "A Service named like the PeaSet that selects its members' pods. A member gets traffic only while Ready, " +
      'and leaves the Service before it is stopped (see drainSeconds).',
    'x-kubernetes-validations': [
      {
        rule: 'self.ports.size() < 2 || self.ports.all(p, has(p.name))',
        message: 'spec.service.ports: name every port when there are several',
      },
    ],
  },
);
/** spec.service. */
export type PeaSetService = Static<typeof ServiceSchema>;

const PeaSetSpecSchema = Type.Object(
  {
    replicas: Type.Optional(
      int32('How many members to run. Also /scale: kubectl scale and a HorizontalPodAutoscaler set it.', {
        minimum: 0,
        maximum: MAX_REPLICAS,
        default: PEASET_DEFAULTS.replicas,
      }),
    ),
    template: TemplateSchema,
    updateStrategy: Type.Optional(UpdateStrategySchema),
    service: Type.Optional(ServiceSchema),
    drainSeconds: Type.Optional(
      int32(
        'Before any member stops (scale-down, update, deletion), it leaves the Service, the operator waits ' +
          'until no EndpointSlice of the Service lists it as ready or serving, then this many seconds more ' +
          'for requests in flight, then cancels it.',
        { minimum: 0, maximum: 3600, default: PEASET_DEFAULTS.drainSeconds },
      ),
    ),
    minReadySeconds: Type.Optional(
      int32('How long a member must have been Ready to count as available.', {
        minimum: 0,
        default: PEASET_DEFAULTS.minReadySeconds,
      }),
    ),
    progressDeadlineSeconds: Type.Optional(
      int32(
        'How long a scale or update may go without progress before the Progressing condition turns False ' +
          'with reason ProgressDeadlineExceeded.',
        { minimum: 1, default: PEASET_DEFAULTS.progressDeadlineSeconds },
      ),
    ),
    disruption: Type.Optional(
      Type.Object(
        {
          maxUnavailable: Type.Optional(
            count('How many members a voluntary disruption (kubectl drain, an eviction) may take at once.'),
          ),
        },
        {
          description:
            "The PodDisruptionBudget over the members' pods (named like the PeaSet). An eviction it allows " +
            "still drains: the member's pod turns NotReady before its runtime is cancelled.",
        },
      ),
    ),
  },
  { description: 'How many members, from which template, and how they are updated, served and stopped.' },
);
/** spec of a PeaSet. */
export type PeaSetSpec = Static<typeof PeaSetSpecSchema>;

const PeaSetConditionSchema = Type.Object({
  ...ConditionSchema.properties,
  type: Type.String({ description: `Condition type: ${either(Object.values(PeaSetCondition))}.` }),
});
/** One of a PeaSet's status.conditions. */
export type PeaSetConditionEntry = Static<typeof PeaSetConditionSchema>;

const PeaSetStatusSchema = Type.Object(
  {
    observedGeneration: Type.Optional(int64('The .metadata.generation the status was computed from.')),
    replicas: Type.Optional(count('Members that exist and are not being stopped (draining).')),
    readyReplicas: Type.Optional(count('Members that are Ready and not draining.')),
    availableReplicas: Type.Optional(count('Members Ready for at least minReadySeconds and not draining.')),
    updatedReplicas: Type.Optional(count('Members created from the current template.')),
    updateRevision: Type.Optional(
      Type.String({
        description: 'Hash of the current template; members carry it as label peapods.io/revision.',
      }),
    ),
    selector: Type.Optional(
      Type.String({
        description: "Label selector of the members' pods, for /scale (HorizontalPodAutoscaler).",
      }),
    ),
    lastProgressTime: Type.Optional(
      Type.String({ format: 'date-time', description: 'When the members last moved towards the spec.' }),
    ),
    conditions: Type.Optional(
      Type.Array(PeaSetConditionSchema, {
        description: `${PeaSetCondition.Available} and ${PeaSetCondition.Progressing}.`,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
      }),
    ),
  },
  { description: 'Observed state, written by the operator.' },
);
/** status of a PeaSet. */
export type PeaSetStatus = Static<typeof PeaSetStatusSchema>;

const nameRule: CelRule = {
  rule: `oldSelf.hasValue() || self.metadata.name.size() <= ${MAX_PEASET_NAME_LENGTH}`,
  optionalOldSelf: true,
  message:
    `metadata.name must be at most ${MAX_PEASET_NAME_LENGTH} characters: the members are Peas named ` +
    'NAME-ORDINAL, at most 52; choose a shorter name',
};

/** The whole PeaSet: the CRD's openAPIV3Schema. */
export const PeaSetSchema = Type.Object(
  {
    apiVersion: Type.Unsafe<`${typeof GROUP}/${typeof VERSION}`>({ type: 'string' }),
    kind: Type.Unsafe<typeof PEASET_KIND>({ type: 'string' }),
    metadata: Type.Unsafe<V1ObjectMeta>({ type: 'object' }),
    spec: PeaSetSpecSchema,
    status: Type.Optional(PeaSetStatusSchema),
  },
  {
    description:
      'A PeaSet runs replicas of a Pea (members NAME-0, NAME-1, …) behind one Service, scales through /scale, ' +
      'rolls template changes by surge or in place, and drains every member before it stops it.',
    'x-kubernetes-validations': [nameRule],
  },
);
/** A PeaSet: replicas of a Pea behind one Service. */
export type PeaSet = Static<typeof PeaSetSchema>;

/** The PeaSet's CustomResourceDefinition, as `make generate` writes it. */
export function peaSetCrd(): Json {
  return customResourceDefinition({
    group: GROUP,
    version: VERSION,
    kind: PEASET_KIND,
    plural: PEASET_PLURAL,
    singular: 'peaset',
    shortNames: ['peaset', 'pset'],
    categories: ['peapods'],
    printerColumns: [
      { name: 'Desired', type: 'integer', jsonPath: '.spec.replicas' },
      { name: 'Ready', type: 'integer', jsonPath: '.status.readyReplicas' },
      { name: 'Up-to-date', type: 'integer', jsonPath: '.status.updatedReplicas' },
      { name: 'Available', type: 'integer', jsonPath: '.status.availableReplicas' },
      { name: 'Strategy', type: 'string', jsonPath: '.spec.updateStrategy.type', priority: 1 },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
    schema: PeaSetSchema,
    scale: {
      specReplicasPath: '.spec.replicas',
      statusReplicasPath: '.status.replicas',
      labelSelectorPath: '.status.selector',
    },
  });
}

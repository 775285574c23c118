// The Pea API, version v1alpha1: the one source. Each field is declared once below, with
// TypeBox; from that declaration derive the TypeScript types (`Static<>`), the CRD's OpenAPI
// schema with the descriptions `kubectl explain` shows, its defaults and its CEL rules
// (schema.ts builds the CRD, `make generate` writes it to deploy/crd), and the phase list
// the operator checks a status against. Descriptions are for users: Kubernetes words only.
import { Type, type Static } from '@sinclair/typebox';
import { DEFAULT_TIMEOUTS } from './defaults.js';
import type {
  V1Affinity,
  V1ContainerPort,
  V1EnvVar,
  V1LocalObjectReference,
  V1ObjectMeta,
  V1PodSecurityContext,
  V1ResourceRequirements,
  V1Toleration,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import {
  dateTime,
  either,
  int32,
  int64,
  kubeList,
  kubeObject,
  stringEnum,
  stringMap,
  type CelRule,
} from '../openapi.js';
import { ConditionType, PEA_PHASES } from '../../shared/words.js';

// The phases and condition types are words, declared with the others in src/shared/words.ts.
export { ConditionType, PEA_PHASES, type PeaPhase } from '../../shared/words.js';

/** The API group of Peapods' kinds. */
export const GROUP = 'peapods.io';
/** The version of the Pea API declared here. */
export const VERSION = 'v1alpha1';
/** The Pea's kind. */
export const KIND = 'Pea';
/** The Pea's resource name, as in /apis/peapods.io/v1alpha1/namespaces/NS/peas. */
export const PLURAL = 'peas';
/** The Pea's apiVersion. */
export const API_VERSION = `${GROUP}/${VERSION}`;

/** Words from the pod API. Never: the Pea ends with its runtime. Always: a new pod, after a back-off. */
export const RESTART_POLICIES = ['Never', 'Always'] as const;
/** What follows when the runtime ends by itself or its pod is deleted by someone else. */
export type RestartPolicy = (typeof RESTART_POLICIES)[number];

const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const;

/** The timeouts of a Pea that sets none (defaults.ts: the sidecar reads them without the schemas). */
export { DEFAULT_TIMEOUTS };

/** Fields a running pod cannot take changes of: refused by the API server instead of ignored. */
const immutable = (field: string): CelRule[] => [
  {
    rule: 'self == oldSelf',
    message: `${field} cannot change once the Pea exists: delete the Pea and create it again`,
  },
];

const port = (what: string) =>
  int32(`${what} port of the runtime, on localhost in the pod.`, { minimum: 1, maximum: 65535 });

const ReadyProbeSchema = Type.Object(
  {
    grpc: Type.Optional(
      Type.Object(
        {
          port: port('gRPC health'),
          service: Type.Optional(
            Type.String({ description: 'Service name to check; empty checks the server as a whole.' }),
          ),
        },
        { description: 'Ready when grpc.health.v1 Check on this port answers SERVING.' },
      ),
    ),
    http: Type.Optional(
      Type.Object(
        {
          port: port('HTTP'),
          path: Type.Optional(Type.String({ description: 'Path to GET.', default: '/' })),
        },
        { description: 'Ready when an HTTP GET answers 2xx or 3xx.' },
      ),
    ),
    tcp: Type.Optional(
      Type.Object(
        { port: port('TCP') },
        {
          description: 'Ready when a TCP connection to the port succeeds.',
        },
      ),
    ),
    // An empty object that says "none" explicitly: no properties of its own.
    none: Type.Optional(
      Type.Unsafe<Record<string, never>>({
        type: 'object',
        description: 'Ready as soon as the runtime is running.',
      }),
    ),
  },
  {
    description:
      "How the runtime sidecar tells that the runtime is ready; the pod's readiness and the Pea's Ready " +
      'condition follow it. Set exactly one of grpc, http, tcp or none; unset means none.',
    'x-kubernetes-validations': [
      {
        rule: '[has(self.grpc), has(self.http), has(self.tcp), has(self.none)].filter(x, x).size() <= 1',
        message: 'spec.ready: set only one of grpc, http, tcp or none',
      },
      ...immutable('spec.ready'),
    ],
  },
);
/** spec.ready: how the runtime's readiness is checked. */
export type ReadyProbe = Static<typeof ReadyProbeSchema>;

const TimeoutsSchema = Type.Object(
  {
    readySeconds: Type.Optional(
      int32(
        'How long the runtime may take to become ready. Past it the pod is deleted and the Pea fails: with ' +
          'reason ReadyTimeout when the runtime ran but never passed its ready check (raise it for slow ' +
          'starts such as loading a large model), otherwise with the cause the pod was stuck on, such as ' +
          'Unschedulable or ImagePullBackOff. 0 waits forever.',
        { minimum: 0, default: DEFAULT_TIMEOUTS.readySeconds },
      ),
    ),
    cancelSeconds: Type.Optional(
      int32(
        'How long a cancelled runtime may take to stop after SIGTERM before it is ' +
          'killed (reason CancelTimeout).',
        { minimum: 1, default: DEFAULT_TIMEOUTS.cancelSeconds },
      ),
    ),
    teardownSeconds: Type.Optional(
      int32(
        'Budget of the preStop teardown (cancel, runtime exit, teardown); also the ' +
          "pod's termination grace period.",
        { minimum: 1, default: DEFAULT_TIMEOUTS.teardownSeconds },
      ),
    ),
  },
  { description: 'Lifecycle timeouts, in seconds.', default: {} },
);
/** The lifecycle timeouts in seconds, each set (spec.timeouts over DEFAULT_TIMEOUTS); readySeconds 0 waits forever. */
export type Timeouts = Required<Static<typeof TimeoutsSchema>>;

const PeaPodTemplateSchema = Type.Object(
  {
    labels: Type.Optional(stringMap('Extra labels on the pod.')),
    annotations: Type.Optional(stringMap('Extra annotations on the pod.')),
    nodeSelector: Type.Optional(stringMap('Node selector of the pod.')),
    tolerations: Type.Optional(kubeList<V1Toleration>('Tolerations of the pod (core/v1 Toleration).')),
    affinity: Type.Optional(kubeObject<V1Affinity>('Affinity of the pod (core/v1 Affinity).')),
    serviceAccountName: Type.Optional(Type.String({ description: 'Service account the pod runs as.' })),
    securityContext: Type.Optional(
      kubeObject<V1PodSecurityContext>(
        'Pod security context (core/v1 ' +
          'PodSecurityContext). Peapods defaults to non-root with seccomp RuntimeDefault.',
      ),
    ),
    imagePullSecrets: Type.Optional(
      kubeList<V1LocalObjectReference>(
        'Secrets for pulling the runtime image (core/v1 ' + 'LocalObjectReference).',
      ),
    ),
    volumes: Type.Optional(
      kubeList<V1Volume>("Volumes of the pod (core/v1 Volume), for the runtime's volumeMounts."),
    ),
  },
  { description: 'Settings of the pod that runs the Pea.' },
);
/** spec.pod: what the Pea's user sets on the pod the operator builds. */
export type PeaPodTemplate = Static<typeof PeaPodTemplateSchema>;

/** The Pea's spec as declared; PeaSet templates reuse it (peaset.ts). */
export const PeaSpecSchema = Type.Object(
  {
    image: Type.String({
      description: 'Image of the runtime container.',
      minLength: 1,
      'x-kubernetes-validations': immutable('spec.image'),
    }),
    command: Type.Optional(
      Type.Array(Type.String(), {
        description: "Entrypoint of the runtime container; the image's when unset.",
        'x-kubernetes-validations': immutable('spec.command'),
      }),
    ),
    args: Type.Optional(
      Type.Array(Type.String(), {
        description: 'Arguments of the runtime container.',
        'x-kubernetes-validations': immutable('spec.args'),
      }),
    ),
    env: Type.Optional(
      kubeList<V1EnvVar>('Environment of the runtime container (core/v1 EnvVar).', {
        'x-kubernetes-validations': immutable('spec.env'),
      }),
    ),
    resources: Type.Optional(
      kubeObject<V1ResourceRequirements>(
        'Compute resources of the runtime container ' + '(core/v1 ResourceRequirements).',
      ),
    ),
    ports: Type.Optional(
      kubeList<V1ContainerPort>('Ports the runtime container exposes (core/v1 ContainerPort).', {
        'x-kubernetes-validations': immutable('spec.ports'),
      }),
    ),
    volumeMounts: Type.Optional(
      kubeList<V1VolumeMount>(
        'Volume mounts of the runtime container (core/v1 ' + 'VolumeMount); volumes are in spec.pod.volumes.',
      ),
    ),
    ready: Type.Optional(ReadyProbeSchema),
    timeouts: Type.Optional(TimeoutsSchema),
    cancel: Type.Optional(
      Type.Boolean({
        description:
          'Set to true to stop a running Pea without deleting it: the runtime is cancelled and torn down, ' +
          'and the Pea ends as Cancelled.',
        default: false,
      }),
    ),
    restartPolicy: Type.Optional(
      stringEnum(
        RESTART_POLICIES,
        'What follows when the runtime ends without a cancel (by itself, successfully or not) or its pod ' +
          'is deleted by someone else. Never: the Pea ends and reports how. Always: the operator starts a ' +
          'new pod, after a back-off of 10s doubling up to 5 minutes (back to 10s after a run of 10 ' +
          'minutes), and counts status.restartCount. A cancel always wins over a restart. May change at ' +
          'any time; a Pea that has ended stays ended.',
        { default: 'Never' },
      ),
    ),
    pod: Type.Optional(PeaPodTemplateSchema),
  },
  { description: 'What to run and how its lifecycle is driven.' },
);
/** spec: what to run and how its lifecycle is driven. */
export type PeaSpec = Static<typeof PeaSpecSchema>;

/** One condition, as metav1.Condition; PeaSet conditions reuse its fields. */
export const ConditionSchema = Type.Object({
  type: Type.String({ description: `Condition type: ${either(Object.values(ConditionType))}.` }),
  status: stringEnum(CONDITION_STATUSES, `${either(CONDITION_STATUSES)}.`),
  reason: Type.String({ description: 'Machine-readable reason in CamelCase.' }),
  message: Type.String({ description: 'What happened, for humans.' }),
  lastTransitionTime: dateTime('When the status last changed.'),
  observedGeneration: Type.Optional(int64('The .metadata.generation the condition was set from.')),
});
/** One of status.conditions, as metav1.Condition. */
export type Condition = Static<typeof ConditionSchema>;

const LastTerminationSchema = Type.Object(
  {
    podName: Type.Optional(
      Type.String({
        description: 'The pod of that run; the operator keeps it, for kubectl logs, until the next restart.',
      }),
    ),
    reason: Type.String({
      description:
        'How that run ended: Completed, FailedToStart, RunForeverError, OOMKilled, PodDeleted, Evicted, ' +
        'Preempted, PreStopHook or Unknown.',
    }),
    message: Type.String({ description: "The runtime's termination message, or what the operator saw." }),
    exitCode: Type.Optional(int32('Exit code of the runtime container, if it ended by itself.')),
    startTime: Type.Optional(dateTime("When that run's pod was created.")),
    finishTime: dateTime('When that run ended.'),
    backoffSeconds: int32('How long the operator waits after finishTime before it creates the next pod.', {
      minimum: 0,
    }),
  },
  {
    description:
      'How the previous run ended, once the Pea was restarted; the fields above describe the current run.',
  },
);
/** A run that ended and was followed by a restart: the fields the Pea's status had then. */
export type LastTermination = Static<typeof LastTerminationSchema>;

const TimelineSchema = Type.Object(
  {
    podScheduledTime: Type.Optional(dateTime('When the scheduler placed the pod on a node.')),
    sidecarStartedTime: Type.Optional(dateTime('When the kubelet started the runtime sidecar container.')),
    runtimeStartedTime: Type.Optional(dateTime('When the kubelet started the runtime container.')),
    readyCheckTime: Type.Optional(
      dateTime(
        'When the pod first turned ready: the runtime passed its ready check (spec.ready) and the ' +
          "kubelet's probe of the sidecar saw it.",
      ),
    ),
    runtimeExitedTime: Type.Optional(dateTime('When the runtime container exited.')),
    teardownTime: Type.Optional(
      dateTime('When the runtime sidecar container exited, its teardown done (or its pod deleted).'),
    ),
  },
  {
    description:
      "When each step of the current run happened, from the pod's conditions and container states. Each " +
      'time is written once, together with a status change the operator writes anyway, so it may appear ' +
      'a moment after the step; with startTime, readyTime, cancelTime and finishTime it is the timeline ' +
      'that kubectl pea status shows.',
  },
);
/** status.timeline: when each step of the current run happened, as the pod tells it. */
export type Timeline = Static<typeof TimelineSchema>;

const PeaStatusSchema = Type.Object(
  {
    phase: Type.Optional(stringEnum(PEA_PHASES, `${either(PEA_PHASES)}.`)),
    conditions: Type.Optional(
      Type.Array(ConditionSchema, {
        description: `${ConditionType.Ready}, and ${ConditionType.Finished} once the Pea has ended.`,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
      }),
    ),
    observedGeneration: Type.Optional(int64('The .metadata.generation the status was computed from.')),
    podName: Type.Optional(Type.String({ description: "Name of the Pea's pod." })),
    podIP: Type.Optional(Type.String({ description: "IP of the Pea's pod." })),
    startTime: Type.Optional(dateTime('When the pod was created.')),
    readyTime: Type.Optional(dateTime('When the Pea first became Ready.')),
    // Set once, so an operator restarted after sending Cancel does not send it again.
    cancelTime: Type.Optional(dateTime('When the operator sent the Cancel RPC to the runtime sidecar.')),
    finishTime: Type.Optional(dateTime('When the Pea ended.')),
    exitCode: Type.Optional(int32('Exit code of the runtime container, once it ended.')),
    reason: Type.Optional(
      Type.String({
        description:
          'How the Pea ended: Completed, Cancelled, CancelTimeout, FailedToStart, RunForeverError, ' +
          'OOMKilled, TeardownFailed, ReadyTimeout, PodDeleted, Evicted, Preempted, PreStopHook, Unknown ' +
          "or InvalidSpec; for a Pea whose pod never started, the wait it was stuck on, in the scheduler's " +
          "or kubelet's words (Unschedulable, ErrImagePull, ImagePullBackOff, InvalidImageName, …).",
      }),
    ),
    message: Type.Optional(
      Type.String({ description: "The runtime's termination message, or what the operator saw." }),
    ),
    restartCount: Type.Optional(
      int32(
        'How many times the operator started a new pod after the runtime ended ' +
          '(spec.restartPolicy Always).',
        { minimum: 0 },
      ),
    ),
    lastTermination: Type.Optional(LastTerminationSchema),
    timeline: Type.Optional(TimelineSchema),
  },
  { description: 'Observed state, written by the operator.' },
);
/** status: what the operator observed, and the only part of a Pea it writes. */
export type PeaStatus = Static<typeof PeaStatusSchema>;

/**
 * The longest Pea name. The operator puts the name into a label value (peapods.io/pea, at
 * most 63 characters) and into the names of the pod (NAME-pea-N, after N restarts, kept to
 * 63 so it can be the pod's hostname) and of the token Secret (NAME-pea-token). 52, the
 * limit kube users know from CronJobs, leaves 11: "-pea-" and six digits of restart count,
 * which is years of restarts at the 5-minute back-off, and fits NAME-pea-token (62).
 */
export const MAX_NAME_LENGTH = 52;

/**
 * Refused when the Pea is applied: accepted, it would fail later on a name the operator
 * derived. optionalOldSelf makes the rule run on create only (oldSelf has a value on every
 * update): the name cannot change anyway, and a longer-named Pea made before the rule must
 * still take its finalizer's removal, or it could never be deleted.
 */
const nameRule: CelRule = {
  rule: `oldSelf.hasValue() || self.metadata.name.size() <= ${MAX_NAME_LENGTH}`,
  optionalOldSelf: true,
  message:
    `metadata.name must be at most ${MAX_NAME_LENGTH} characters: the operator names the Pea's pod NAME-pea-N ` +
    'and labels it with the name, both limited to 63; choose a shorter name',
};

/** The whole Pea: the CRD's openAPIV3Schema. Its options carry rules on the whole object, such as on metadata. */
export const PeaSchema = Type.Object(
  {
    apiVersion: Type.Unsafe<typeof API_VERSION>({ type: 'string' }),
    kind: Type.Unsafe<typeof KIND>({ type: 'string' }),
    // The API server validates metadata itself; the CRD may not describe it beyond its type.
    metadata: Type.Unsafe<V1ObjectMeta>({ type: 'object' }),
    spec: PeaSpecSchema,
    status: Type.Optional(PeaStatusSchema),
  },
  {
    description:
      'A Pea runs one long-lived runtime (a model server, a worker, a gateway) in a pod, beside the ' +
      'Peapods runtime sidecar: the pod is Ready while the runtime passes its ready check, and cancelling ' +
      'or deleting the Pea stops the runtime and runs its teardown before the pod goes.',
    'x-kubernetes-validations': [nameRule],
  },
);
/** A Pea: one long-lived runtime, run in a pod with the runtime sidecar. */
export type Pea = Static<typeof PeaSchema>;

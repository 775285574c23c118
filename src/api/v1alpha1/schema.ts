// The Pea CRD, built from one place. `node dist/src/api/v1alpha1/crd.js` writes
// deploy/crd/peas.peapods.io.yaml; a unit test fails when the committed file drifts.
// Validation lives here, in the API server: schema bounds and CEL rules whose messages name
// the field and say what to do.
import { DEFAULT_TIMEOUTS, GROUP, KIND, PLURAL, RESTART_POLICIES, VERSION } from './types.js';

type Schema = Record<string, unknown>;

const str = (description: string, extra: Schema = {}): Schema => ({ type: 'string', description, ...extra });
const int = (description: string, extra: Schema = {}): Schema => ({ type: 'integer', format: 'int32', description, ...extra });
const strList = (description: string): Schema => ({ type: 'array', description, items: { type: 'string' } });
const strMap = (description: string): Schema => ({ type: 'object', description, additionalProperties: { type: 'string' } });
/** Kubernetes' own types (EnvVar, Volume, …): validated by the API server when the pod is created. */
const k8sObject = (description: string): Schema => ({ type: 'object', description, 'x-kubernetes-preserve-unknown-fields': true });
const k8sList = (description: string): Schema => ({ type: 'array', description, items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } });
const immutable = (field: string): Schema[] => [
  { rule: 'self == oldSelf', message: `${field} cannot change once the Pea exists: delete the Pea and create it again` },
];
const port = (what: string): Schema => int(`${what} port of the runtime, on localhost in the pod.`, { minimum: 1, maximum: 65535 });

const ready: Schema = {
  type: 'object',
  description: 'How the runtime sidecar tells that the runtime is ready (the seed\'s ready event). Set exactly one of grpc, http, tcp or none; unset means none.',
  properties: {
    grpc: {
      type: 'object',
      description: 'Ready when grpc.health.v1 Check on this port answers SERVING.',
      required: ['port'],
      properties: { port: port('gRPC health'), service: str('Service name to check; empty checks the server as a whole.') },
    },
    http: {
      type: 'object',
      description: 'Ready when an HTTP GET answers 2xx or 3xx.',
      required: ['port'],
      properties: { port: port('HTTP'), path: str('Path to GET.', { default: '/' }) },
    },
    tcp: { type: 'object', description: 'Ready when a TCP connection to the port succeeds.', required: ['port'], properties: { port: port('TCP') } },
    none: { type: 'object', description: 'Ready as soon as the runtime is running.' },
  },
  'x-kubernetes-validations': [
    {
      rule: '[has(self.grpc), has(self.http), has(self.tcp), has(self.none)].filter(x, x).size() <= 1',
      message: 'spec.ready: set only one of grpc, http, tcp or none',
    },
    ...immutable('spec.ready'),
  ],
};

const timeouts: Schema = {
  type: 'object',
  description: 'Lifecycle timeouts, in seconds.',
  default: {},
  properties: {
    readySeconds: int('How long the runtime may take to become ready. Past it the pod is deleted and the Pea '
      + 'fails: with reason ReadyTimeout when the runtime ran but never passed its ready check (raise it for slow '
      + 'starts such as loading a large model), otherwise with the cause the pod was stuck on, such as Unschedulable '
      + 'or ImagePullBackOff. 0 waits forever.', { minimum: 0, default: DEFAULT_TIMEOUTS.readySeconds }),
    cancelSeconds: int('How long a cancelled runtime may take to stop after SIGTERM before it is killed (reason CancelTimeout).', { minimum: 1, default: DEFAULT_TIMEOUTS.cancelSeconds }),
    teardownSeconds: int('Budget of the preStop teardown (cancel, runtime exit, teardown); also the pod\'s termination grace period.', { minimum: 1, default: DEFAULT_TIMEOUTS.teardownSeconds }),
  },
};

const pod: Schema = {
  type: 'object',
  description: 'Settings of the pod that runs the Pea.',
  properties: {
    labels: strMap('Extra labels on the pod.'),
    annotations: strMap('Extra annotations on the pod.'),
    nodeSelector: strMap('Node selector of the pod.'),
    tolerations: k8sList('Tolerations of the pod (core/v1 Toleration).'),
    affinity: k8sObject('Affinity of the pod (core/v1 Affinity).'),
    serviceAccountName: str('Service account the pod runs as.'),
    securityContext: k8sObject('Pod security context (core/v1 PodSecurityContext). Peapods defaults to non-root with seccomp RuntimeDefault.'),
    imagePullSecrets: k8sList('Secrets for pulling the runtime image (core/v1 LocalObjectReference).'),
    volumes: k8sList('Volumes of the pod (core/v1 Volume), for the runtime\'s volumeMounts.'),
  },
};

const spec: Schema = {
  type: 'object',
  description: 'What to run and how its lifecycle is driven.',
  required: ['image'],
  properties: {
    image: str('Image of the runtime container.', { minLength: 1, 'x-kubernetes-validations': immutable('spec.image') }),
    command: { ...strList('Entrypoint of the runtime container; the image\'s when unset.'), 'x-kubernetes-validations': immutable('spec.command') },
    args: { ...strList('Arguments of the runtime container.'), 'x-kubernetes-validations': immutable('spec.args') },
    env: { ...k8sList('Environment of the runtime container (core/v1 EnvVar).'), 'x-kubernetes-validations': immutable('spec.env') },
    resources: k8sObject('Compute resources of the runtime container (core/v1 ResourceRequirements).'),
    ports: { ...k8sList('Ports the runtime container exposes (core/v1 ContainerPort).'), 'x-kubernetes-validations': immutable('spec.ports') },
    volumeMounts: k8sList('Volume mounts of the runtime container (core/v1 VolumeMount); volumes are in spec.pod.volumes.'),
    ready,
    timeouts,
    cancel: { type: 'boolean', description: 'Set to true to stop a running Pea without deleting it: the runtime is cancelled and torn down, and the Pea ends as Cancelled.', default: false },
    restartPolicy: str('What follows when the runtime ends without a cancel (by itself, successfully or not) or its pod is deleted by someone else. Never: the Pea ends and reports how. Always: the operator starts a new pod, after a back-off of 10s doubling up to 5 minutes (back to 10s after a run of 10 minutes), and counts status.restartCount. A cancel always wins over a restart. May change at any time; a Pea that has ended stays ended.', { enum: [...RESTART_POLICIES], default: 'Never' }),
    pod,
  },
};

const condition: Schema = {
  type: 'object',
  required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
  properties: {
    type: str('Condition type: Ready or Finished.'),
    status: str('True, False or Unknown.', { enum: ['True', 'False', 'Unknown'] }),
    reason: str('Machine-readable reason in CamelCase.'),
    message: str('What happened, for humans.'),
    lastTransitionTime: str('When the status last changed.', { format: 'date-time' }),
    observedGeneration: { type: 'integer', format: 'int64', description: 'The .metadata.generation the condition was set from.' },
  },
};

const status: Schema = {
  type: 'object',
  description: 'Observed state, written by the operator.',
  properties: {
    phase: str('Pending, Starting, Ready, Cancelling, Succeeded or Failed.', { enum: ['Pending', 'Starting', 'Ready', 'Cancelling', 'Succeeded', 'Failed'] }),
    conditions: { type: 'array', description: 'Ready, and Finished once the Pea has ended.', items: condition, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] },
    observedGeneration: { type: 'integer', format: 'int64', description: 'The .metadata.generation the status was computed from.' },
    podName: str('Name of the Pea\'s pod.'),
    podIP: str('IP of the Pea\'s pod.'),
    startTime: str('When the pod was created.', { format: 'date-time' }),
    readyTime: str('When the Pea first became Ready.', { format: 'date-time' }),
    cancelTime: str('When the operator sent the Cancel RPC to the runtime sidecar.', { format: 'date-time' }),
    finishTime: str('When the Pea ended.', { format: 'date-time' }),
    exitCode: int('Exit code of the runtime container, once it ended.'),
    reason: str('How the Pea ended: Completed, Cancelled, CancelTimeout, FailedToStart, RunForeverError, OOMKilled, TeardownFailed, ReadyTimeout, '
      + 'PodDeleted, Evicted, Preempted, PreStopHook, Unknown or InvalidSpec; for a Pea whose pod never started, the '
      + 'wait it was stuck on, in the scheduler\'s or kubelet\'s words (Unschedulable, ErrImagePull, ImagePullBackOff, '
      + 'InvalidImageName, …).'),
    message: str('The runtime\'s termination message, or what the operator saw.'),
    restartCount: int('How many times the operator started a new pod after the runtime ended (spec.restartPolicy Always).', { minimum: 0 }),
    lastTermination: {
      type: 'object',
      description: 'How the previous run ended, once the Pea was restarted; the fields above describe the current run.',
      required: ['reason', 'message', 'finishTime', 'backoffSeconds'],
      properties: {
        podName: str('The pod of that run; the operator keeps it, for kubectl logs, until the next restart.'),
        reason: str('How that run ended: Completed, FailedToStart, RunForeverError, OOMKilled, PodDeleted, Evicted, Preempted, PreStopHook or Unknown.'),
        message: str('The runtime\'s termination message, or what the operator saw.'),
        exitCode: int('Exit code of the runtime container, if it ended by itself.'),
        startTime: str('When that run\'s pod was created.', { format: 'date-time' }),
        finishTime: str('When that run ended.', { format: 'date-time' }),
        backoffSeconds: int('How long the operator waits after finishTime before it creates the next pod.', { minimum: 0 }),
      },
    },
  },
};

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
const nameRule: Schema = {
  rule: `oldSelf.hasValue() || self.metadata.name.size() <= ${MAX_NAME_LENGTH}`,
  optionalOldSelf: true,
  message: `metadata.name must be at most ${MAX_NAME_LENGTH} characters: the operator names the Pea's pod NAME-pea-N `
    + 'and labels it with the name, both limited to 63; choose a shorter name',
};

export function peaCrd(): Schema {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: 'pea', shortNames: ['pea'], categories: ['peapods'] },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: 'Reason', type: 'string', jsonPath: '.status.reason', priority: 1 },
            { name: 'Pod', type: 'string', jsonPath: '.status.podName' },
            { name: 'Restarts', type: 'integer', jsonPath: '.status.restartCount', priority: 1 },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'A Pea is one long-lived runtime (a model server, a worker, a gateway) run in a pod with the Peapods runtime sidecar: init → runForever → teardown, with cancel from the operator.',
              required: ['spec'],
              'x-kubernetes-validations': [nameRule],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec,
                status,
              },
            },
          },
        },
      ],
    },
  };
}

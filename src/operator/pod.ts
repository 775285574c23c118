// The Pea's pod, as a pure function of the Pea and the operator's settings.
// Shape: the runtime sidecar as a native sidecar (init container, restartPolicy Always) that
// must take control calls (its postStart hook) before the runtime starts; a shared PID namespace so it can
// signal the runtime; the kubelet's gRPC readiness probe on the sidecar; the runtime
// container's preStop hook calling the sidecar, so any pod deletion runs cancel → teardown.
import type {
  V1Container,
  V1ContainerState,
  V1ContainerStatus,
  V1OwnerReference,
  V1Pod,
  V1Probe,
  V1SecurityContext,
} from '@kubernetes/client-node';
import {
  API_VERSION,
  DEFAULT_TIMEOUTS,
  GROUP,
  KIND,
  type Pea,
  type ReadyProbe,
  type Timeouts,
} from '../api/v1alpha1/types.js';
import { SIDECAR_GRPC_PORT, SIDECAR_HTTP_PORT, STARTED_TIMEOUT_SECONDS } from '../shared/sidecar-defaults.js';
import { STARTED_FILE, startedGate } from '../shared/started-gate.js';

/** The operator's settings for every Pea pod, from its flags (not the Pea's own spec.pod). */
export interface PodOptions {
  /** Image with `pea-runtime` (the operator's own image by default). */
  sidecarImage: string;
  grpcPort: number;
  httpPort: number;
  /** UID both containers run as unless the Pea says otherwise. */
  runAsUser: number;
}

/** The settings the operator's flags default to. */
export const DEFAULT_POD_OPTIONS: PodOptions = {
  sidecarImage: 'peapods/peapods:dev',
  grpcPort: SIDECAR_GRPC_PORT,
  httpPort: SIDECAR_HTTP_PORT,
  runAsUser: 65532,
};

/** The label on a Pea's pod and Secret naming the Pea. */
export const LABEL_PEA = 'peapods.io/pea';
/** The well-known label that says who manages an object; the pod informer selects on it. */
export const LABEL_MANAGED = 'app.kubernetes.io/managed-by';
/** The value of LABEL_MANAGED on everything the operator creates. */
export const MANAGER = 'peapods';
/** Marks the runtime container's processes so the sidecar can find them (--attach-env). */
const RUNTIME_MARKER = { name: 'PEAPODS_RUNTIME', value: '1' };
/** The name of the runtime sidecar container (a native sidecar: an init container). */
export const SIDECAR_CONTAINER = 'pea-runtime';
/** The Pea's control-token Secret (src/operator/token.ts) in the sidecar. */
const TOKEN_VOLUME = 'pea-runtime-token';
const TOKEN_MOUNT = '/var/run/peapods';
/** The token's file in that mount: the key of the Secret's data. */
export const TOKEN_FILE = 'token';
/** The name of the container that runs the Pea's image. */
export const RUNTIME_CONTAINER = 'runtime';

/**
 * On a Pea (a PeaSet's member): its pod's preStop hook first turns NOT_SERVING and holds this
 * many seconds for the operator's Cancel, so an evicted or deleted pod drains like any other
 * stop; the pod's grace period grows by as much.
 */
export const ANNOTATION_PRESTOP_HOLD = 'peapods.io/prestop-hold-seconds';

/** The preStop hold a Pea asks for (ANNOTATION_PRESTOP_HOLD), 0 when none or not a whole number. */
export function preStopHoldSeconds(pea: Pea): number {
  const n = Number(pea.metadata.annotations?.[ANNOTATION_PRESTOP_HOLD]);
  return Number.isInteger(n) && n > 0 && n <= 7200 ? n : 0;
}

/** The Pea's timeouts, its own over the defaults. */
export function timeoutsOf(pea: Pea): Timeouts {
  return { ...DEFAULT_TIMEOUTS, ...pea.spec.timeouts };
}

/**
 * The pod of the Pea's current run: `NAME-pea`, then `NAME-pea-1`, `NAME-pea-2`… after
 * restarts, so a new pod never collides with one that is still terminating, and a repeated
 * create of the same run meets AlreadyExists instead of making a second pod.
 */
export function podName(pea: Pea): string {
  const n = (pea.status as { restartCount?: unknown } | undefined)?.restartCount;
  const suffix = typeof n === 'number' && Number.isInteger(n) && n > 0 ? `-${n}` : '';
  return `${pea.metadata.name}-pea`.slice(0, 63 - suffix.length).replace(/-+$/, '') + suffix;
}

/**
 * What the operator reads of a pod, as a new compact object: metadata it keys and owns by,
 * and the status decide() reads; no spec (ours, and known), no managedFields, nothing it
 * never reads (images, IDs, resources). Cached pods are most of the operator's memory.
 */
export function trimPod(pod: V1Pod): V1Pod {
  const m = pod.metadata ?? {};
  const s = pod.status;
  return {
    metadata: defined({
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      creationTimestamp: m.creationTimestamp,
      deletionTimestamp: m.deletionTimestamp,
      deletionGracePeriodSeconds: m.deletionGracePeriodSeconds,
      // Our own labels and annotations only (peapods.io/…): the Pea's, and a PeaSet member's
      // (its PeaSet, whether it is in the Service, when it was drained).
      labels: ours(m.labels),
      annotations: ours(m.annotations),
      ownerReferences: m.ownerReferences?.map((r) => ({
        apiVersion: r.apiVersion,
        kind: r.kind,
        name: r.name,
        uid: r.uid,
      })),
    }),
    ...(s
      ? {
          status: defined({
            phase: s.phase,
            reason: s.reason,
            message: s.message,
            podIP: s.podIP,
            conditions: s.conditions?.map((c) =>
              defined({
                type: c.type,
                status: c.status,
                reason: c.reason,
                message: c.message,
                lastTransitionTime: c.lastTransitionTime,
              }),
            ),
            initContainerStatuses: s.initContainerStatuses?.map(trimContainer),
            containerStatuses: s.containerStatuses?.map(trimContainer),
          }),
        }
      : {}),
  };
}

function trimContainer(c: V1ContainerStatus): V1ContainerStatus {
  return defined({
    name: c.name,
    ready: c.ready,
    restartCount: c.restartCount,
    state: c.state && trimState(c.state),
    lastState: c.lastState?.terminated && trimState(c.lastState),
  } as V1ContainerStatus);
}

function trimState(s: V1ContainerState): V1ContainerState {
  const t = s.terminated;
  return defined({
    waiting: s.waiting && defined({ reason: s.waiting.reason, message: s.waiting.message }),
    // startedAt and finishedAt: the Pea's timeline (timeline.ts) reads them.
    running: s.running && defined({ startedAt: s.running.startedAt }),
    terminated:
      t &&
      defined({
        exitCode: t.exitCode,
        reason: t.reason,
        message: t.message,
        startedAt: t.startedAt,
        finishedAt: t.finishedAt,
      }),
  });
}

/**
 * The Pea as cached: all of it but managedFields and kubectl's last-applied annotation (a
 * copy of the whole object), which nothing here reads. A new object rather than deletes, which
 * would turn V8's compact objects into slower, larger dictionaries.
 */
export function trimPea<T extends Pea>(pea: T): T {
  const metadata = without(pea.metadata ?? {}, ['managedFields', 'annotations']);
  const annotations = without(pea.metadata?.annotations ?? {}, [LAST_APPLIED]);
  return {
    ...pea,
    metadata: Object.keys(annotations).length > 0 ? { ...metadata, annotations } : metadata,
  };
}

/** The entries of a label or annotation map under our own prefix (peapods.io/), if any. */
function ours(map: Record<string, string> | undefined): Record<string, string> | undefined {
  const kept = Object.entries(map ?? {}).filter(([k]) => k.startsWith(`${GROUP}/`));
  return kept.length > 0 ? Object.fromEntries(kept) : undefined;
}

/** A copy of `o` without `keys`. */
function without<T extends object>(o: T, keys: string[]): T {
  return Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k))) as T;
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** A copy without the undefined keys: an absent key costs no memory, an undefined one does. */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/**
 * The owner reference that ties a pod or Secret to its Pea (or a member, Service or budget to
 * its PeaSet, with `kind`): deleted with it, and, as its controller, found from it.
 * blockOwnerDeletion keeps a foreground deletion of the owner waiting for it.
 */
export function ownedBy(pea: Pick<Pea, 'metadata'>, kind: string = KIND): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind,
    name: pea.metadata.name as string,
    uid: pea.metadata.uid as string,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** The Secret holding the Pea's control token: one per Pea, for all of its runs. */
export function tokenSecretName(pea: Pea): string {
  return `${(pea.metadata.name as string).slice(0, 243)}-pea-token`;
}

/** `--ready` for the sidecar, from spec.ready. */
export function readyFlag(ready: ReadyProbe | undefined): string {
  if (ready?.grpc) return `grpc://127.0.0.1:${ready.grpc.port}/${ready.grpc.service ?? ''}`;
  if (ready?.http) return `http://127.0.0.1:${ready.http.port}${ready.http.path ?? '/'}`;
  if (ready?.tcp) return `tcp://127.0.0.1:${ready.tcp.port}`;
  return 'none';
}

const restrictedContainer: V1SecurityContext = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  runAsNonRoot: true,
  seccompProfile: { type: 'RuntimeDefault' },
};

function grpcProbe(
  port: number,
  service: string | undefined,
  periodSeconds: number,
  failureThreshold: number,
): V1Probe {
  return {
    grpc: { port, ...(service ? { service } : {}) },
    periodSeconds,
    timeoutSeconds: 1,
    failureThreshold,
  };
}

function sidecarContainer(pea: Pea, s: PodOptions, t: Timeouts, hookToken: string): V1Container {
  return {
    name: SIDECAR_CONTAINER,
    image: s.sidecarImage,
    imagePullPolicy: 'IfNotPresent',
    restartPolicy: 'Always',
    args: [
      'sidecar',
      '--attach-env',
      `${RUNTIME_MARKER.name}=${RUNTIME_MARKER.value}`,
      '--ready',
      readyFlag(pea.spec.ready),
      '--grpc-port',
      String(s.grpcPort),
      '--http-port',
      String(s.httpPort),
      '--cancel-timeout',
      String(t.cancelSeconds),
      '--teardown-timeout',
      String(t.teardownSeconds),
      '--token-file',
      `${TOKEN_MOUNT}/${TOKEN_FILE}`,
      '--started-file',
      STARTED_FILE,
      ...(preStopHoldSeconds(pea) > 0 ? ['--prestop-hold-seconds', String(preStopHoldSeconds(pea))] : []),
    ],
    ports: [
      { name: 'lifecycle', containerPort: s.grpcPort, protocol: 'TCP' },
      { name: 'hooks', containerPort: s.httpPort, protocol: 'TCP' },
    ],
    // The runtime container starts only once the sidecar takes control calls. A postStart
    // hook rather than a startupProbe: the kubelet waits for either before it starts the next
    // container, but a probe passes at best on its next 1 s tick and the hook as soon as the
    // sidecar answers (measured on the local cluster: create → Pod Ready 3.0 s → 2.0 s). The
    // hook is a shell loop, not a Node program (src/shared/started-gate.ts).
    lifecycle: { postStart: { exec: { command: startedGate(STARTED_FILE, STARTED_TIMEOUT_SECONDS) } } },
    // Service "" is SERVING only while the runtime is ready: this is the Pea's readiness.
    readinessProbe: grpcProbe(s.grpcPort, undefined, 1, 1),
    resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '160Mi' } },
    securityContext: { ...restrictedContainer, readOnlyRootFilesystem: true },
    terminationMessagePolicy: 'FallbackToLogsOnError',
    // No NODE_COMPILE_CACHE here: the image's own (the Dockerfile fills it at build time)
    // serves the sidecar's first start, which a fresh cache in /tmp never did.
    env: [{ name: HOOK_TOKEN_ENV, value: hookToken }],
    // The control token: mounted here only, never in the runtime container.
    volumeMounts: [
      { name: 'pea-runtime-tmp', mountPath: '/tmp' },
      { name: TOKEN_VOLUME, mountPath: TOKEN_MOUNT, readOnly: true },
    ],
  };
}

/** The environment variable that gives the sidecar its hook token (`pea-runtime sidecar --help`). */
export const HOOK_TOKEN_ENV = 'PEA_HOOK_TOKEN';

function runtimeContainer(pea: Pea, s: PodOptions, hookToken: string): V1Container {
  const spec = pea.spec;
  return {
    name: RUNTIME_CONTAINER,
    image: spec.image,
    ...(spec.command ? { command: spec.command } : {}),
    ...(spec.args ? { args: spec.args } : {}),
    env: [...(spec.env ?? []), RUNTIME_MARKER],
    ...(spec.resources ? { resources: spec.resources } : {}),
    ...(spec.ports ? { ports: spec.ports } : {}),
    ...(spec.volumeMounts ? { volumeMounts: spec.volumeMounts } : {}),
    // Runs before the kubelet's SIGTERM: the sidecar cancels, waits for the exit and tears down.
    // No host: the kubelet then dials the pod IP, i.e. the sidecar in the same pod. Any pod
    // can dial that too, so the hook carries the pod's hook token and the sidecar refuses
    // /prestop without it. The token is in clear here, for anyone who can `get` this pod:
    // an httpGet hook cannot take a header from a Secret. Who can delete the pod can cancel
    // the Pea anyway; grant `get pods` in a Pea's namespace to those trusted with that.
    lifecycle: {
      preStop: {
        httpGet: {
          path: '/prestop',
          port: s.httpPort,
          httpHeaders: [{ name: 'Authorization', value: `Bearer ${hookToken}` }],
        },
      },
    },
    securityContext: restrictedContainer,
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}

/**
 * The Pea's pod for its current run: a pure function of the Pea and the operator's settings.
 * `hookToken` (src/operator/token.ts) goes into the preStop hook's header and the sidecar's
 * environment, so the two always agree for the pod's whole life.
 */
export function buildPod(pea: Pea, hookToken: string, s: PodOptions = DEFAULT_POD_OPTIONS): V1Pod {
  const t = timeoutsOf(pea);
  const name = pea.metadata.name as string;
  const podSpec = pea.spec.pod ?? {};
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: podName(pea),
      namespace: pea.metadata.namespace,
      labels: { ...podSpec.labels, [LABEL_PEA]: name, [LABEL_MANAGED]: MANAGER },
      ...(podSpec.annotations ? { annotations: podSpec.annotations } : {}),
      ownerReferences: [ownedBy(pea)],
    },
    spec: {
      restartPolicy: 'Never',
      shareProcessNamespace: true,
      terminationGracePeriodSeconds: t.teardownSeconds + preStopHoldSeconds(pea),
      automountServiceAccountToken: false,
      initContainers: [sidecarContainer(pea, s, t, hookToken)],
      containers: [runtimeContainer(pea, s, hookToken)],
      securityContext: {
        runAsNonRoot: true,
        runAsUser: s.runAsUser,
        runAsGroup: s.runAsUser,
        seccompProfile: { type: 'RuntimeDefault' },
        ...podSpec.securityContext,
      },
      volumes: [
        { name: 'pea-runtime-tmp', emptyDir: { sizeLimit: '64Mi' } },
        { name: TOKEN_VOLUME, secret: { secretName: tokenSecretName(pea) } },
        ...(podSpec.volumes ?? []),
      ],
      ...(podSpec.nodeSelector ? { nodeSelector: podSpec.nodeSelector } : {}),
      ...(podSpec.tolerations ? { tolerations: podSpec.tolerations } : {}),
      ...(podSpec.affinity ? { affinity: podSpec.affinity } : {}),
      ...(podSpec.serviceAccountName ? { serviceAccountName: podSpec.serviceAccountName } : {}),
      ...(podSpec.imagePullSecrets ? { imagePullSecrets: podSpec.imagePullSecrets } : {}),
    },
  };
}

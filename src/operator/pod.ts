// The Pea's pod, as a pure function of the Pea and the operator's settings.
// Shape: the runtime sidecar as a native sidecar (init container, restartPolicy Always) that
// must take control calls (its postStart hook) before the runtime starts; a shared PID namespace so it can
// signal the runtime; the kubelet's gRPC readiness probe on the sidecar; the runtime
// container's preStop hook calling the sidecar, so any pod deletion runs cancel → teardown.
import type {
  V1Container,
  V1OwnerReference,
  V1Pod,
  V1Probe,
  V1SecurityContext,
} from '@kubernetes/client-node';
import {
  API_VERSION,
  DEFAULT_TIMEOUTS,
  KIND,
  type Pea,
  type ReadyProbe,
  type Timeouts,
} from '../api/v1alpha1/types.js';
import { SIDECAR_GRPC_PORT, SIDECAR_HTTP_PORT, STARTED_TIMEOUT_SECONDS } from '../shared/sidecar-defaults.js';

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
 * Trims a pod in place to what the operator reads of it, metadata and status: decide()
 * needs no more, and its spec is ours and known. Most of a cached pod's memory.
 */
export function trimPod(pod: V1Pod): void {
  delete pod.metadata?.managedFields;
  delete (pod as { spec?: unknown }).spec;
}

/**
 * The owner reference that ties a pod or Secret to its Pea: deleted with it, and, as its
 * controller, found from it. blockOwnerDeletion keeps a foreground deletion of the Pea
 * waiting for it.
 */
export function ownedBy(pea: Pea): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
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

/** How the sidecar image starts pea-runtime (its ENTRYPOINT), for the exec hook. */
const SIDECAR_ENTRYPOINT = ['node', '/app/dist/src/runtime/main.js'] as const;

/** `pea-runtime started`'s flags in the sidecar's postStart hook. */
function startedFlags(s: PodOptions): string[] {
  return ['--grpc-port', String(s.grpcPort), '--timeout', String(STARTED_TIMEOUT_SECONDS)];
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
    ],
    ports: [
      { name: 'lifecycle', containerPort: s.grpcPort, protocol: 'TCP' },
      { name: 'hooks', containerPort: s.httpPort, protocol: 'TCP' },
    ],
    // The runtime container starts only once the sidecar takes control calls. A postStart
    // hook rather than a startupProbe: the kubelet waits for either before it starts the next
    // container, but a probe passes at best on its next 1 s tick and the hook as soon as the
    // sidecar answers (measured on the local cluster: create → Pod Ready 3.0 s → 2.0 s).
    lifecycle: { postStart: { exec: { command: [...SIDECAR_ENTRYPOINT, 'started', ...startedFlags(s)] } } },
    // Service "" is SERVING only while the runtime is ready: this is the Pea's readiness.
    readinessProbe: grpcProbe(s.grpcPort, undefined, 1, 1),
    resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '160Mi' } },
    securityContext: { ...restrictedContainer, readOnlyRootFilesystem: true },
    terminationMessagePolicy: 'FallbackToLogsOnError',
    env: [
      { name: 'NODE_COMPILE_CACHE', value: '/tmp/node-compile-cache' },
      { name: HOOK_TOKEN_ENV, value: hookToken },
    ],
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
      terminationGracePeriodSeconds: t.teardownSeconds,
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

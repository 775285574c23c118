// The Pea API, version v1alpha1: the TypeScript shape of the objects. The CRD's schema
// (schema.ts) describes the same fields; test/unit/api checks both against the samples and
// the generated deploy/crd file, so they cannot drift apart silently.
import type { V1Affinity, V1ContainerPort, V1EnvVar, V1LocalObjectReference, V1ObjectMeta, V1PodSecurityContext, V1ResourceRequirements, V1Toleration, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { Reason } from '../../shared/reasons.js';

export const GROUP = 'peapods.io';
export const VERSION = 'v1alpha1';
export const KIND = 'Pea';
export const PLURAL = 'peas';
export const API_VERSION = `${GROUP}/${VERSION}`;

export interface ReadyProbe {
  grpc?: { port: number; service?: string };
  http?: { port: number; path?: string };
  tcp?: { port: number };
  none?: Record<string, never>;
}

export interface Timeouts {
  /** 0 = wait forever. */
  readySeconds: number;
  cancelSeconds: number;
  teardownSeconds: number;
}

export interface PodSettings {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  nodeSelector?: Record<string, string>;
  tolerations?: V1Toleration[];
  affinity?: V1Affinity;
  serviceAccountName?: string;
  securityContext?: V1PodSecurityContext;
  imagePullSecrets?: V1LocalObjectReference[];
  volumes?: V1Volume[];
}

export interface PeaSpec {
  image: string;
  command?: string[];
  args?: string[];
  env?: V1EnvVar[];
  resources?: V1ResourceRequirements;
  ports?: V1ContainerPort[];
  volumeMounts?: V1VolumeMount[];
  ready?: ReadyProbe;
  timeouts?: Partial<Timeouts>;
  cancel?: boolean;
  /** What follows when the runtime ends by itself or its pod is deleted by someone else. */
  restartPolicy?: RestartPolicy;
  pod?: PodSettings;
}

/** Words from the pod API. Never: the Pea ends with its runtime. Always: a new pod, after a back-off. */
export type RestartPolicy = 'Never' | 'Always';
export const RESTART_POLICIES: readonly RestartPolicy[] = ['Never', 'Always'];

export type PeaPhase = 'Pending' | 'Starting' | 'Ready' | 'Cancelling' | 'Succeeded' | 'Failed';

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface PeaStatus {
  phase?: PeaPhase;
  conditions?: Condition[];
  observedGeneration?: number;
  podName?: string;
  podIP?: string;
  startTime?: string;
  readyTime?: string;
  /** When the operator sent the Cancel RPC; set once, so a restart does not send it again. */
  cancelTime?: string;
  finishTime?: string;
  exitCode?: number;
  reason?: Reason | string;
  message?: string;
  /** How many times a new pod was started after the runtime ended (spec.restartPolicy Always). */
  restartCount?: number;
  /** How the previous run ended, once the Pea was restarted. */
  lastTermination?: LastTermination;
}

/** A run that ended and was followed by a restart: the fields the Pea's status had then. */
export interface LastTermination {
  podName?: string;
  reason: Reason | string;
  message: string;
  exitCode?: number;
  startTime?: string;
  finishTime: string;
  /** How long the operator waits after finishTime before it creates the next pod. */
  backoffSeconds: number;
}

export interface Pea {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: V1ObjectMeta;
  spec: PeaSpec;
  status?: PeaStatus;
}

/** Condition types. `Ready` makes `kubectl wait --for=condition=Ready pea/x` work. */
export const ConditionType = {
  Ready: 'Ready',
  /** True once the Pea has ended, with the Reason words as its reason. */
  Finished: 'Finished',
} as const;

export const DEFAULT_TIMEOUTS: Timeouts = { readySeconds: 300, cancelSeconds: 10, teardownSeconds: 30 };

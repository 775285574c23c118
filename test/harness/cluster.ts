// Helpers over the test API server: Peas, the operator as a real process, and the kubelet's
// part played by the test (no kubelet runs here, so pod status is written by hand).
import * as k8s from '@kubernetes/client-node';
import { join } from 'node:path';
import type { Pea, PeaSpec } from '../../src/api/v1alpha1/types.js';
import { GROUP, PLURAL, VERSION } from '../../src/api/v1alpha1/types.js';
import { ROOT, start, until, type Proc } from '../helpers/processes.js';
import type { ApiServer } from './apiserver.js';

const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
export const OPERATOR = join(ROOT, 'dist/src/operator/main.js');

export class TestCluster {
  readonly custom: k8s.CustomObjectsApi;
  readonly core: k8s.CoreV1Api;

  constructor(
    readonly api: ApiServer,
    readonly namespace: string,
  ) {
    this.custom = api.admin.makeApiClient(k8s.CustomObjectsApi);
    this.core = api.admin.makeApiClient(k8s.CoreV1Api);
  }

  async createNamespace(): Promise<void> {
    await this.core.createNamespace({ body: { metadata: { name: this.namespace } } });
  }

  createPea(name: string, spec: Partial<PeaSpec> = {}): Promise<Pea> {
    const body = {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'Pea',
      metadata: { name },
      spec: { image: 'example/runtime:1', ...spec },
    };
    return this.custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: this.namespace,
      plural: PLURAL,
      body,
    }) as Promise<Pea>;
  }

  getPea(name: string): Promise<Pea> {
    return this.custom.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: this.namespace,
      plural: PLURAL,
      name,
    }) as Promise<Pea>;
  }

  patchPea(name: string, body: object): Promise<Pea> {
    return this.custom.patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace: this.namespace, plural: PLURAL, name, body },
      MERGE,
    ) as Promise<Pea>;
  }

  deletePea(name: string): Promise<unknown> {
    return this.custom.deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: this.namespace,
      plural: PLURAL,
      name,
    });
  }

  /** Waits until the Pea's status satisfies `ok`; the error shows the last status seen. */
  async peaUntil(name: string, what: string, ok: (p: Pea) => boolean, ms = 60_000): Promise<Pea> {
    let last: Pea | undefined;
    try {
      return await until(
        what,
        async () => {
          last = await this.getPea(name);
          return ok(last) ? last : undefined;
        },
        ms,
      );
    } catch (err) {
      throw new Error(`${String(err)}; last status: ${JSON.stringify(last?.status)}`);
    }
  }

  podsOf(name: string): Promise<k8s.V1Pod[]> {
    return this.core
      .listNamespacedPod({ namespace: this.namespace, labelSelector: `peapods.io/pea=${name}` })
      .then((l) => l.items);
  }

  async podOf(name: string): Promise<k8s.V1Pod> {
    return until(`pod of ${name}`, async () => (await this.podsOf(name))[0], 60_000);
  }

  /** The kubelet's part: pod running on 127.0.0.1, with the runtime ready or not. */
  async kubeletRunning(pod: k8s.V1Pod, ready: boolean): Promise<void> {
    const now = new Date();
    await this.podStatus(pod, {
      phase: 'Running',
      podIP: '127.0.0.1',
      podIPs: [{ ip: '127.0.0.1' }],
      startTime: now,
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: now }],
      containerStatuses: [
        {
          name: 'runtime',
          image: 'example/runtime:1',
          imageID: '',
          ready,
          restartCount: 0,
          state: { running: { startedAt: now } },
        },
      ],
    });
  }

  /** The kubelet's part: the runtime container ended with this exit code and message. */
  async kubeletTerminated(pod: k8s.V1Pod, exitCode: number, message = ''): Promise<void> {
    const now = new Date();
    await this.podStatus(pod, {
      phase: exitCode === 0 ? 'Succeeded' : 'Failed',
      podIP: '127.0.0.1',
      conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: now }],
      containerStatuses: [
        {
          name: 'runtime',
          image: 'example/runtime:1',
          imageID: '',
          ready: false,
          restartCount: 0,
          state: {
            terminated: {
              exitCode,
              message,
              reason: exitCode ? 'Error' : 'Completed',
              startedAt: now,
              finishedAt: now,
            },
          },
        },
      ],
    });
  }

  /** The kubelet's part, any of it: writes `status` over the pod's (a merge patch: lists are replaced). */
  async podStatus(pod: k8s.V1Pod, status: k8s.V1PodStatus): Promise<void> {
    await this.core.patchNamespacedPodStatus(
      { name: pod.metadata!.name!, namespace: this.namespace, body: { status } },
      MERGE,
    );
  }

  /** The operator as a real process with the identity and RBAC it ships. */
  startOperator(extra: string[] = [], nodeArgs: string[] = []): Proc {
    return start(process.execPath, [
      ...nodeArgs,
      OPERATOR,
      '--kubeconfig',
      this.api.operatorKubeconfigFile,
      '--namespace',
      this.namespace,
      '--metrics-bind-address',
      '127.0.0.1:0',
      '--health-probe-bind-address',
      '127.0.0.1:0',
      '--leader-election-namespace',
      'peapods-system',
      ...extra,
    ]);
  }
}

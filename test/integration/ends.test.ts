// How a Pea ended, told from its pod, with the operator as a real process on a real API
// server. No kubelet runs here: the test writes the pod's status as the kubelet would, and
// evicts through the API server's own Eviction API, which adds the DisruptionTarget
// condition itself. A pod bound to a node is deleted gracefully (it stays, Terminating, until
// its kubelet is done), so the test binds each pod to a node name first, as the scheduler would.
import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import type { Pea } from '../../src/api/v1alpha1/types.js';
import { operatorSuite } from '../harness/suites.js';
import { until } from '../helpers/processes.js';

const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const s = operatorSuite('ends');

/** A Pea made Ready on a pod bound to a node; resolves the pod's name. */
async function readyPea(name: string): Promise<string> {
  await s.cluster.createPea(name);
  // The first test also waits for the operator to start, on a machine that may be busy.
  const pod = await until(`the pod of ${name}`, async () => (await s.cluster.podsOf(name))[0], 60_000);
  const podName = pod.metadata!.name!;
  await s.cluster.core.createNamespacedPodBinding({
    name: podName,
    namespace: s.cluster.namespace,
    body: { metadata: { name: podName }, target: { apiVersion: 'v1', kind: 'Node', name: 'node-1' } },
  });
  await s.cluster.kubeletRunning(pod, true);
  await s.cluster.peaUntil(name, 'Ready', (p) => p.status?.phase === 'Ready');
  return podName;
}

/** The kubelet's report of an ended run: the runtime's state, the sidecar's (its verdict) and the pod's phase. */
function ended(
  runtime: k8s.V1ContainerStateTerminated,
  o: { sidecar?: string; phase?: string; keep?: k8s.V1PodCondition[] } = {},
): k8s.V1PodStatus {
  const now = new Date();
  return {
    ...(o.phase ? { phase: o.phase } : {}),
    conditions: [...(o.keep ?? []), { type: 'Ready', status: 'False', lastTransitionTime: now }],
    containerStatuses: [
      {
        name: 'runtime',
        image: 'example/runtime:1',
        imageID: '',
        ready: false,
        restartCount: 0,
        state: { terminated: { startedAt: now, finishedAt: now, ...runtime } },
      },
    ],
    initContainerStatuses: [
      {
        name: 'pea-runtime',
        image: 'peapods/peapods:dev',
        imageID: '',
        ready: false,
        restartCount: 0,
        state:
          o.sidecar === undefined
            ? { running: { startedAt: now } }
            : { terminated: { exitCode: 0, message: o.sidecar, startedAt: now, finishedAt: now } },
      },
    ],
  };
}

const writeStatus = (pod: string, status: k8s.V1PodStatus): Promise<unknown> =>
  s.cluster.core.patchNamespacedPodStatus(
    { name: pod, namespace: s.cluster.namespace, body: { status } },
    MERGE,
  );

const finished = (name: string): Promise<Pea> =>
  s.cluster.peaUntil(name, 'the end', (p) => ['Succeeded', 'Failed'].includes(p.status?.phase ?? ''));

describe('how a Pea ended, told from its pod', () => {
  it("an exited runtime's Pea ends after its teardown; the verdict names an unasked preStop call", async () => {
    const pod = await readyPea('hooked');
    await writeStatus(pod, ended({ exitCode: 0 }));
    // The runtime exited, the sidecar still tears down: no end yet.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await s.cluster.getPea('hooked')).status?.phase).toBe('Ready');
    await writeStatus(
      pod,
      ended(
        { exitCode: 0 },
        {
          phase: 'Succeeded',
          sidecar:
            "Cancelled: cancelled (preStop hook); exited (its exit code is in the runtime container's status)",
        },
      ),
    );
    const end = await finished('hooked');
    expect(end.status).toMatchObject({ phase: 'Failed', reason: 'PreStopHook', exitCode: 0 });
    expect(end.status?.message).toContain('preStop hook endpoint');
  });

  it("kubectl drain's eviction: Evicted, naming the Eviction API", async () => {
    const pod = await readyPea('evicted');
    await s.cluster.core.createNamespacedPodEviction({
      name: pod,
      namespace: s.cluster.namespace,
      body: { metadata: { name: pod, namespace: s.cluster.namespace } },
    });
    const terminating = await until('the pod to be Terminating', async () => {
      const p = (await s.cluster.podsOf('evicted'))[0];
      return p?.metadata?.deletionTimestamp ? p : undefined;
    });
    const disruption = terminating.status?.conditions?.filter((c) => c.type === 'DisruptionTarget') ?? [];
    expect(disruption[0]).toMatchObject({ status: 'True', reason: 'EvictionByEvictionAPI' });
    // Its preStop hook cancelled the runtime, which exited 143; the kubelet keeps the condition.
    await writeStatus(pod, ended({ exitCode: 143 }, { keep: disruption }));
    const end = await finished('evicted');
    expect(end.status).toMatchObject({ phase: 'Failed', reason: 'Evicted', exitCode: 143 });
    expect(end.status?.message).toContain('evicted through the Eviction API, as kubectl drain does');
  });

  it("the kernel's OOM kill: OOMKilled, with what to change", async () => {
    const pod = await readyPea('oom');
    await writeStatus(
      pod,
      ended(
        { exitCode: 137, reason: 'OOMKilled' },
        { phase: 'Failed', sidecar: 'RunForeverError: runtime exited after it was ready' },
      ),
    );
    const end = await finished('oom');
    expect(end.status).toMatchObject({ phase: 'Failed', reason: 'OOMKilled', exitCode: 137 });
    expect(end.status?.message).toContain('spec.resources.limits.memory');
  });

  it('a pod that ended without a state for its runtime: Unknown, not a guess', async () => {
    const pod = await readyPea('unknown');
    await writeStatus(pod, {
      phase: 'Failed',
      reason: 'NodeLost',
      message: 'node-1 went away',
      containerStatuses: [],
    });
    const end = await finished('unknown');
    expect(end.status).toMatchObject({ phase: 'Failed', reason: 'Unknown' });
    expect(end.status?.message).toContain('NodeLost: node-1 went away');
  });
});

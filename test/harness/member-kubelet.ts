// The scheduler's and kubelet's part for PeaSet members' pods, where no kubelet runs: each new
// pod is bound to `node` (when given: the EndpointSlice controller skips pods on no known
// node), then reported Running and Ready at an address of its own; a deleted pod is removed,
// as the kubelet does once its containers stopped. Polls until stopped.
import * as k8s from '@kubernetes/client-node';

const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

/** Where the member pods run: `ip(n)` gives the n-th pod its address. */
export interface MemberKubeletOptions {
  namespace: string;
  node?: string;
  ip: (n: number) => string;
  /** A pod's own address, if the test chose one (a pod whose sidecar it runs). */
  ipOf?: (pod: string) => string | undefined;
  /** Runs a deleted pod's preStop hook, if the test gives one; the pod goes once it returns. */
  preStop?: (pod: string) => Promise<unknown> | undefined;
}

const deleted = (pod: k8s.V1Pod): boolean => Boolean(pod.metadata?.deletionTimestamp);

/** Starts playing the kubelet for every pod labelled peapods.io/peaset; resolves the stop function. */
export function memberKubelet(core: k8s.CoreV1Api, o: MemberKubeletOptions): () => Promise<void> {
  let running = true;
  let next = 0;
  const ips = new Map<string, string>();
  const stopping = new Map<string, Promise<unknown>>();
  const step = async (pod: k8s.V1Pod): Promise<void> => {
    const name = pod.metadata!.name!;
    const namespace = o.namespace;
    if (pod.metadata?.deletionTimestamp) {
      // The preStop hook first, as the kubelet runs it before it stops the containers.
      if (!stopping.has(name))
        stopping.set(
          name,
          Promise.resolve(o.preStop?.(name)).catch(() => undefined),
        );
      await stopping.get(name);
      await core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 });
    } else if (o.node && !pod.spec?.nodeName) {
      const target = { kind: 'Node', name: o.node };
      await core.createNamespacedPodBinding({ name, namespace, body: { metadata: { name }, target } });
    } else if (pod.status?.phase !== 'Running') {
      const ip = ips.get(name) ?? o.ipOf?.(name) ?? o.ip(next++);
      ips.set(name, ip);
      const now = new Date();
      const status: k8s.V1PodStatus = {
        phase: 'Running',
        podIP: ip,
        podIPs: [{ ip }],
        startTime: now,
        conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }],
        containerStatuses: [
          {
            name: 'runtime',
            image: 'example/runtime:1',
            imageID: '',
            ready: true,
            restartCount: 0,
            state: { running: { startedAt: now } },
          },
        ],
      };
      await core.patchNamespacedPodStatus({ name, namespace, body: { status } }, MERGE);
    }
  };
  const loop = (async () => {
    while (running) {
      try {
        const pods = await core.listNamespacedPod({
          namespace: o.namespace,
          labelSelector: 'peapods.io/peaset',
        });
        // A pod whose preStop runs is not waited for: the others go on meanwhile.
        const [going, live] = [pods.items.filter(deleted), pods.items.filter((p) => !deleted(p))];
        for (const p of going) void step(p).catch(() => undefined);
        await Promise.all(live.map((p) => step(p).catch(() => undefined)));
      } catch {
        // the API server busy or restarting: the next round sees
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return async () => {
    running = false;
    await loop;
  };
}

// The operator and its Peas across nodes: the operator reaches the API server through the
// `kubernetes` Service (in-cluster config: KUBERNETES_SERVICE_HOST), and a Pea's sidecar
// through the pod network, from another node. On kind (a control plane and two workers) the
// Pea is kept off the operator's node; a one-node cluster (the local one) has no other node,
// so there the same test shows it on the operator's node, and says so in its name.
import { afterAll, describe, expect, test } from '@jest/globals';
import { apply, kubectl, NAMESPACE, OPERATOR_NAMESPACE, peaStatus, waitForPhase, IMAGE } from './kube.js';

const MINUTE = 60_000;
const OPERATOR_LABELS = { 'app.kubernetes.io/name': 'peapods', 'app.kubernetes.io/component': 'operator' };
const selector = Object.entries(OPERATOR_LABELS)
  .map(([k, v]) => `${k}=${v}`)
  .join(',');

/** Nodes that take ordinary pods (kind's control plane is tainted NoSchedule). */
async function schedulableNodes(): Promise<string[]> {
  type Node = { metadata: { name: string }; spec: { taints?: Array<{ effect: string }> } };
  const nodes = JSON.parse(await kubectl(['get', 'nodes', '-o', 'json'])) as { items: Node[] };
  const open = (n: Node): boolean => !(n.spec.taints ?? []).some((t) => t.effect === 'NoSchedule');
  return nodes.items.filter(open).map((n) => n.metadata.name);
}

/** The operator's running pod (not one still terminating from an earlier test's restart). */
async function operatorPod(): Promise<{ name: string; node: string }> {
  type Pod = {
    metadata: { name: string; deletionTimestamp?: string };
    spec: { nodeName: string };
    status: { phase: string };
  };
  const out = await kubectl(['get', 'pods', '-n', OPERATOR_NAMESPACE, '-l', selector, '-o', 'json']);
  const pods = (JSON.parse(out) as { items: Pod[] }).items;
  const live = pods.filter((p) => p.status.phase === 'Running' && !p.metadata.deletionTimestamp);
  expect(live).toHaveLength(1);
  const [pod] = live as [Pod];
  return { name: pod.metadata.name, node: pod.spec.nodeName };
}

describe('across nodes', () => {
  afterAll(async () => {
    await kubectl(['delete', 'pea', '-n', NAMESPACE, 'far', '--ignore-not-found', '--timeout=90s']);
  }, 2 * MINUTE);

  test('the operator talks to the API server through the kubernetes Service', async () => {
    const service = await kubectl([
      'get',
      'service',
      '-n',
      'default',
      'kubernetes',
      '-o',
      'jsonpath={.spec.clusterIP}',
    ]);
    const clusterIP = service.trim();
    const op = await operatorPod();
    const printHost = 'process.stdout.write(process.env.KUBERNETES_SERVICE_HOST)';
    const host = await kubectl(['exec', '-n', OPERATOR_NAMESPACE, op.name, '--', 'node', '-e', printHost]);
    expect(host).toBe(clusterIP);
    // Ready means its caches synced: it listed and watched Peas and pods through that address.
    const ready = await kubectl([
      'get',
      'pod',
      '-n',
      OPERATOR_NAMESPACE,
      op.name,
      '-o',
      'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
    ]);
    expect(ready.trim()).toBe('True');
  });

  test('a Pea on another node than the operator (one node: on its node) is Ready, then cancelled', async () => {
    const nodes = await schedulableNodes();
    const op = await operatorPod();
    const apart = nodes.length > 1;
    const antiAffinity = {
      podAntiAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [
          {
            namespaceSelector: {},
            labelSelector: { matchLabels: OPERATOR_LABELS },
            topologyKey: 'kubernetes.io/hostname',
          },
        ],
      },
    };
    await apply({
      apiVersion: 'peapods.io/v1alpha1',
      kind: 'Pea',
      metadata: { name: 'far' },
      spec: {
        image: IMAGE,
        command: ['node', '/app/dist/examples/sleeper.js'],
        ready: { grpc: { port: 50061 } },
        pod: apart ? { affinity: antiAffinity } : {},
      },
    });
    await kubectl(['wait', '-n', NAMESPACE, '--for=condition=Ready', 'pea/far', '--timeout=180s']);
    const pod = (await peaStatus('far'))?.podName as string;
    const node = (
      await kubectl(['get', 'pod', '-n', NAMESPACE, pod, '-o', 'jsonpath={.spec.nodeName}'])
    ).trim();
    if (apart) expect(node).not.toBe(op.node);
    else expect([nodes.length, node]).toEqual([1, op.node]);
    // The Cancel RPC goes from the operator's pod to the Pea's pod IP, across nodes on kind.
    await kubectl(['patch', '-n', NAMESPACE, 'pea', 'far', '--type=merge', '-p', '{"spec":{"cancel":true}}']);
    const s = await waitForPhase('far', ['Succeeded', 'Failed'], MINUTE);
    expect(s.reason).toBe('Cancelled');
    const events = await kubectl([
      'get',
      'events',
      '-n',
      NAMESPACE,
      '--field-selector',
      'involvedObject.name=far',
      '-o',
      'jsonpath={.items[*].reason}',
    ]);
    expect(events).not.toContain('CancelUnreachable');
  });
});

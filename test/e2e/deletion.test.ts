// Deleting Peas never waits for the operator: a Pea carries no finalizer, its pod goes by the
// garbage collector (the pod's owner reference), and the pod's preStop hook still drains,
// cancels and tears the runtime down in order. Shown with the operator scaled to 0: a
// `kubectl delete pea` that waits for the Pea returns, and so does the deletion of a namespace
// with Ready Peas, within the kubectl timeouts given. With the operator back, a foreground
// delete waits for the pod, and the operator cancels on the way (never telling PodDeleted).
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import {
  apply,
  expectCleanCancel,
  IMAGE,
  kubectl,
  NAMESPACE,
  OPERATOR_NAMESPACE,
  pea,
  peaStatus,
  waitForGone,
} from './kube.js';

const MINUTE = 60_000;
const SIDECAR_HEALTH = ['--report-health', '50051'];
/** A namespace of its own, deleted whole by the test. */
const DOOMED = 'peapods-e2e-doomed';

/** A Ready-at-once Pea of the image's sleeper runtime (no trace volume: any namespace will do). */
const sleeper = (name: string): object => ({
  apiVersion: 'peapods.io/v1alpha1',
  kind: 'Pea',
  metadata: { name },
  spec: {
    image: IMAGE,
    command: ['node', '/app/dist/examples/sleeper.js'],
    env: [{ name: 'PEA_HEALTH_PORT', value: '50061' }],
    ready: { grpc: { port: 50061 } },
    timeouts: { readySeconds: 60, cancelSeconds: 10, teardownSeconds: 15 },
  },
});

const scaleOperator = async (replicas: number): Promise<void> => {
  const deployment = 'deployment/peapods-operator';
  await kubectl(['scale', '-n', OPERATOR_NAMESPACE, deployment, `--replicas=${replicas}`]);
  await kubectl(['rollout', 'status', '-n', OPERATOR_NAMESPACE, deployment, '--timeout=120s']);
  if (replicas === 0)
    await kubectl([
      'wait',
      '--for=delete',
      'pod',
      '-n',
      OPERATOR_NAMESPACE,
      '-l',
      'app.kubernetes.io/name=peapods',
      '--timeout=60s',
    ]);
};

const ready = (name: string, namespace = NAMESPACE): Promise<string> =>
  kubectl(['wait', '-n', namespace, '--for=condition=Ready', `pea/${name}`, '--timeout=180s']);

/** The reasons of the Events about a Pea (they outlive it). */
const eventReasons = (name: string): Promise<string> =>
  kubectl([
    'get',
    'events',
    '-n',
    NAMESPACE,
    '--field-selector',
    `involvedObject.name=${name},involvedObject.kind=Pea`,
    '-o',
    'jsonpath={.items[*].reason}',
  ]);

describe('deleting Peas while the operator is down', () => {
  beforeAll(async () => {
    await apply(pea('unattended', { args: SIDECAR_HEALTH }));
    const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: DOOMED } };
    await kubectl(['apply', '-f', '-'], JSON.stringify(namespace));
    for (const name of ['doomed-0', 'doomed-1']) await apply(sleeper(name), DOOMED);
    await ready('unattended');
    for (const name of ['doomed-0', 'doomed-1']) await ready(name, DOOMED);
    await scaleOperator(0);
  });

  afterAll(async () => {
    await scaleOperator(1);
    await kubectl(['delete', 'namespace', DOOMED, '--ignore-not-found', '--wait=false']);
  });

  test('kubectl delete pea returns with the operator scaled to 0; the runtime still tears down in order', async () => {
    const podName = (await peaStatus('unattended'))?.podName as string;
    // --wait (kubectl's default) waits until the Pea is gone: a finalizer would hang it here.
    await kubectl(['delete', '-n', NAMESPACE, 'pea', 'unattended', '--timeout=30s']);
    expect(await kubectl(['get', '-n', NAMESPACE, 'pea', 'unattended', '--ignore-not-found'])).toBe('');
    await expectCleanCancel('unattended');
    await waitForGone('pod', podName, MINUTE);
  });

  test('a namespace with Ready Peas is deleted, with the operator scaled to 0', async () => {
    // Bounded by the pods' own grace (spec.timeouts.teardownSeconds, 15 s) and the garbage
    // collector, not by anything the operator must do.
    await kubectl(['delete', 'namespace', DOOMED, '--timeout=120s']);
    expect(await kubectl(['get', 'namespace', DOOMED, '--ignore-not-found'])).toBe('');
  });
});

describe('a foreground delete with the operator running', () => {
  test('waits for the pod; the operator cancels on the way and never tells it as PodDeleted', async () => {
    await apply(pea('foreground', { args: SIDECAR_HEALTH }));
    await ready('foreground');
    const podName = (await peaStatus('foreground'))?.podName as string;
    await kubectl(['delete', '-n', NAMESPACE, 'pea', 'foreground', '--cascade=foreground', '--timeout=90s']);
    // The Pea went only after its pod: the garbage collector's foregroundDeletion finalizer.
    expect(await kubectl(['get', '-n', NAMESPACE, 'pod', podName, '--ignore-not-found'])).toBe('');
    await expectCleanCancel('foreground');
    // The operator saw the deletion and cancelled (its Cancelling Event); the end's own Event
    // (Cancelled) follows when it looks again before the pod is gone, which is a race the
    // garbage collector may win. Whatever it told, it never told PodDeleted.
    const reasons = await eventReasons('foreground');
    expect(reasons).toContain('Cancelling');
    expect(reasons).not.toContain('PodDeleted');
  });
});

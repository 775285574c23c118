// Every way a running Pea is stopped, on a real kubelet with real signals. The runtimes
// (examples/faulty.ts with --report-health) write each step to a host directory, so the
// order survives the pod: the sidecar's health "" must already be NOT_SERVING when the
// runtime's cancel() runs, and teardown must run exactly once.
import { describe, expect, test, beforeAll } from '@jest/globals';
import {
  apply,
  expectCleanCancel,
  kubectl,
  NAMESPACE,
  pea,
  peaStatus,
  podsOf,
  runtimeEvents,
  waitFor,
  waitForGone,
  waitForPhase,
} from './kube.js';

const MINUTE = 60_000;
const SIDECAR_HEALTH = ['--report-health', '50051'];

describe('cancelling a running Pea', () => {
  beforeAll(async () => {
    for (const name of ['by-spec', 'by-delete', 'by-pod-delete'])
      await apply(pea(name, { args: SIDECAR_HEALTH }));
    await apply(
      pea('stubborn', { args: ['--ignore-cancel'], timeouts: { cancelSeconds: 5, teardownSeconds: 5 } }),
    );
    for (const name of ['by-spec', 'by-delete', 'by-pod-delete', 'stubborn']) {
      await kubectl(['wait', '-n', NAMESPACE, '--for=condition=Ready', `pea/${name}`, '--timeout=180s']);
    }
  });

  test('spec.cancel: NOT_SERVING, SIGTERM, teardown once; the Pea says Cancelled and its pod has ended', async () => {
    await kubectl([
      'patch',
      '-n',
      NAMESPACE,
      'pea',
      'by-spec',
      '--type=merge',
      '-p',
      '{"spec":{"cancel":true}}',
    ]);
    const s = await waitForPhase('by-spec', ['Succeeded', 'Failed'], MINUTE);
    expect(s.reason).toBe('Cancelled');
    expect(s.exitCode).toBe(0);
    await expectCleanCancel('by-spec');
    // The sidecar took the operator's Cancel: the token from the Pea's Secret matched.
    const events = await kubectl([
      'get',
      'events',
      '-n',
      NAMESPACE,
      '--field-selector',
      'involvedObject.name=by-spec',
      '-o',
      'jsonpath={.items[*].reason}',
    ]);
    expect(events).not.toContain('CancelUnauthenticated');
    expect(events).not.toContain('CancelUnreachable');
    const secret = await kubectl([
      'get',
      'secret',
      '-n',
      NAMESPACE,
      'by-spec-pea-token',
      '-o',
      'jsonpath={.metadata.ownerReferences[0].kind}',
    ]);
    expect(secret).toBe('Pea');
    // The finished pod is kept, like a Job's, so its logs stay readable; once the sidecar has
    // stopped too, no container runs and the pod is Succeeded.
    const phase = await waitFor(
      'the cancelled pod to finish',
      async () => {
        const pod = JSON.parse(
          await kubectl(['get', '-n', NAMESPACE, 'pod', s.podName as string, '-o', 'json']),
        ) as { status: { phase: string } };
        return pod.status.phase === 'Running' ? undefined : pod.status.phase;
      },
      MINUTE,
    );
    expect(phase).toBe('Succeeded');
  });

  test('kubectl delete pea: the same order, then the pod and the Pea are gone', async () => {
    const podName = (await peaStatus('by-delete'))?.podName as string;
    await kubectl(['delete', '-n', NAMESPACE, 'pea', 'by-delete', '--wait=false']);
    await waitForGone('pea', 'by-delete', MINUTE);
    await expectCleanCancel('by-delete');
    await waitForGone('pod', podName, MINUTE);
  });

  test('kubectl delete pod (no operator cancel): the preStop hook drains and tears down in order', async () => {
    const podName = (await peaStatus('by-pod-delete'))?.podName as string;
    await kubectl(['delete', '-n', NAMESPACE, 'pod', podName, '--wait=true', '--timeout=60s']);
    await expectCleanCancel('by-pod-delete');
    const s = await waitForPhase('by-pod-delete', ['Succeeded', 'Failed'], MINUTE);
    // Reported, not recreated.
    expect(s.reason).toBe('PodDeleted');
    expect(s.exitCode).toBe(0);
    expect(await podsOf('by-pod-delete')).toHaveLength(0);
  });

  test('a runtime ignoring SIGTERM is killed: CancelTimeout within cancelSeconds + grace + a few s', async () => {
    await kubectl([
      'patch',
      '-n',
      NAMESPACE,
      'pea',
      'stubborn',
      '--type=merge',
      '-p',
      '{"spec":{"cancel":true}}',
    ]);
    // cancelSeconds 5 + grace (teardownSeconds) 5 + 10 s for the kubelet and the operator.
    const s = await waitForPhase('stubborn', ['Succeeded', 'Failed'], 20_000);
    expect(s.reason).toBe('CancelTimeout');
    const events = (await runtimeEvents('stubborn')).map((e) => e.event);
    expect(events).toEqual(['init', 'ready', 'cancel']);
    await waitFor(
      'the stubborn runtime to be gone',
      async () => {
        const pods = await podsOf('stubborn');
        const running = await Promise.all(
          pods.map(async (p) => {
            const pod = JSON.parse(
              await kubectl(['get', '-n', NAMESPACE, 'pod', p.metadata.name, '-o', 'json']),
            ) as { status: { containerStatuses?: { name: string; state: { running?: object } }[] } };
            return (
              pod.status.containerStatuses?.some((c) => c.name === 'runtime' && c.state.running) ?? false
            );
          }),
        );
        return running.includes(true) ? undefined : true;
      },
      MINUTE,
    );
  });
});

// From `kubectl apply` to Ready and to each way a runtime can fail, on a real kubelet: the
// sidecar's gRPC health is read by the kubelet's readiness probe, and the operator turns the
// pod's readiness into the Pea's. Peas are applied together and checked one by one, so the
// file takes about as long as its slowest Pea.
import { describe, expect, test, beforeAll } from '@jest/globals';
import { readFileSync } from 'node:fs';
import {
  apply,
  condition,
  IMAGE,
  kubectl,
  NAMESPACE,
  pea,
  peaStatus,
  podsOf,
  runtimeEvents,
  waitFor,
  waitForPhase,
  type PeaStatus,
} from './kube.js';

const MINUTE = 60_000;

describe('a Pea from kubectl apply to its end', () => {
  beforeAll(async () => {
    // The README's sample as it stands, on the image under test (PEAPODS_IMAGE may name another).
    const sample = readFileSync('deploy/samples/sleeper.yaml', 'utf8');
    expect(sample).toContain('image: peapods/peapods:dev');
    await kubectl(
      ['apply', '-n', NAMESPACE, '-f', '-'],
      sample.replace('image: peapods/peapods:dev', `image: ${IMAGE}`),
    );
    await apply(pea('slow', { example: 'slow-start', args: ['--ready-after', '8'] }));
    await apply(pea('never-ready', { args: ['--never-ready'], timeouts: { readySeconds: 15 } }));
    await apply(pea('crash-before', { args: ['--crash-before-ready'] }));
    await apply(pea('crash-after', { args: ['--crash-after', '5'] }));
  });

  test('the sample Pea becomes Ready, and kubectl wait sees it', async () => {
    await kubectl(['wait', '-n', NAMESPACE, '--for=condition=Ready', 'pea/sleeper', '--timeout=120s']);
    const s = (await peaStatus('sleeper')) as PeaStatus;
    expect(s.phase).toBe('Ready');
    const pods = await podsOf('sleeper');
    expect(pods.map((p) => p.metadata.name)).toEqual([s.podName]);
    const pod = JSON.parse(
      await kubectl(['get', '-n', NAMESPACE, 'pod', s.podName as string, '-o', 'json']),
    ) as {
      status: { conditions: { type: string; status: string }[] };
    };
    expect(pod.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
    const table = await kubectl(['get', '-n', NAMESPACE, 'peas']);
    expect(table).toMatch(/sleeper\s+Ready/);
  });

  test('a runtime slow to become ready keeps the Pea Starting until it is', async () => {
    const seen = new Set<string>();
    const s = await waitFor(
      'pea/slow Ready',
      async () => {
        const st = await peaStatus('slow');
        if (st?.phase) seen.add(st.phase);
        return st?.phase === 'Ready' ? st : undefined;
      },
      2 * MINUTE,
      250,
    );
    expect(seen.has('Starting')).toBe(true);
    const ready = (await runtimeEvents('slow')).find((e) => e.event === 'ready');
    expect(ready).toBeDefined();
    // Status times have whole seconds; the Pea may not be Ready before the runtime said so.
    expect(new Date(s.readyTime as string).getTime()).toBeGreaterThanOrEqual(
      Math.floor((ready?.t as number) / 1000) * 1000,
    );
  });

  test('a runtime that never becomes ready fails with ReadyTimeout, naming the field to raise', async () => {
    const s = await waitForPhase('never-ready', ['Failed', 'Succeeded'], 2 * MINUTE);
    expect(s.reason).toBe('ReadyTimeout');
    expect(s.message).toContain('spec.timeouts.readySeconds');
    expect(condition(s, 'Ready')?.status).toBe('False');
    await waitFor(
      'the timed-out pod to be deleted',
      async () => ((await podsOf('never-ready')).length === 0 ? true : undefined),
      MINUTE,
    );
  });

  test('a crash before ready is FailedToStart, with the termination message', async () => {
    const s = await waitForPhase('crash-before', ['Failed', 'Succeeded'], 2 * MINUTE);
    expect(s.reason).toBe('FailedToStart');
    expect(s.message).toContain('crashed before ready on purpose');
    expect(s.exitCode).not.toBe(0);
    // init succeeded, so teardown runs once after runForever threw (the seed's contract).
    expect((await runtimeEvents('crash-before')).map((e) => e.event)).toEqual(['init', 'teardown']);
  });

  test('a crash after ready is RunForeverError, with the termination message, and teardown ran once', async () => {
    const s = await waitForPhase('crash-after', ['Failed', 'Succeeded'], 2 * MINUTE);
    // It was Ready before it crashed (the other tests ran meanwhile, so the phase is long past).
    expect(s.readyTime).toBeDefined();
    expect(s.reason).toBe('RunForeverError');
    expect(s.message).toContain('crashed after ready on purpose');
    expect((await runtimeEvents('crash-after')).map((e) => e.event)).toEqual(['init', 'ready', 'teardown']);
  });
});

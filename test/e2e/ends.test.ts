// Ends that only a real node can cause: a drain of the node (the Eviction API) and the
// kernel's OOM kill. The Pea's reason must say who or what stopped the runtime, and a drained
// runtime must still have been torn down (its trace is on a host directory, see kube.ts).
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { apply, kubectl, NAMESPACE, pea, peaStatus, runtimeEvents, waitFor, waitForPhase } from './kube.js';

const MINUTE = 60_000;
const DRAINED = ['drained-a', 'drained-b'];
let node = '';

describe('ends caused by the node', () => {
  beforeAll(async () => {
    for (const name of DRAINED) await apply(pea(name, { args: ['--report-health', '50051'] }));
    for (const name of DRAINED)
      await kubectl(['wait', '-n', NAMESPACE, '--for=condition=Ready', `pea/${name}`, '--timeout=180s']);
  });

  afterAll(async () => {
    if (node) await kubectl(['uncordon', node]); // also after a drain test cut short
  });

  test('kubectl drain: each Pea ends Evicted, naming the eviction, after a clean cancel and teardown', async () => {
    const podName = (await peaStatus(DRAINED[0] as string))?.podName as string;
    node = (
      await kubectl(['get', 'pod', '-n', NAMESPACE, podName, '-o', 'jsonpath={.spec.nodeName}'])
    ).trim();
    // Only the Pea pods of this test: the operator and the other tests' pods stay. drain also
    // cordons the node: uncordoned at once, or the next test's pod could not be scheduled.
    try {
      await kubectl([
        'drain',
        node,
        '--pod-selector',
        `peapods.io/pea in (${DRAINED.join(',')})`,
        '--delete-emptydir-data',
        '--ignore-daemonsets',
        '--timeout=120s',
      ]);
    } finally {
      await kubectl(['uncordon', node]);
    }
    for (const name of DRAINED) {
      const s = await waitForPhase(name, ['Succeeded', 'Failed'], MINUTE);
      expect(s).toMatchObject({ phase: 'Failed', reason: 'Evicted' });
      expect(s.message).toContain('evicted through the Eviction API, as kubectl drain does');
      const events = await waitFor(
        `${name}'s teardown in its trace`,
        async () => {
          const e = await runtimeEvents(name);
          return e.some((x) => x.event === 'teardown') ? e : undefined;
        },
        MINUTE,
      );
      expect(events.map((e) => e.event)).toEqual([
        'init',
        'ready',
        'cancel-saw-health',
        'cancel',
        'teardown',
      ]);
      expect(events.find((e) => e.event === 'cancel-saw-health')?.status).toBe('NOT_SERVING');
    }
  });

  test('a runtime over its memory limit: OOMKilled, with what to do about it', async () => {
    const spec = pea('oom', { args: ['--alloc-mib', '512'], timeouts: { readySeconds: 120 } }) as {
      spec: Record<string, unknown>;
    };
    spec.spec.resources = { requests: { memory: '64Mi' }, limits: { memory: '128Mi' } };
    await apply(spec);
    const s = await waitForPhase('oom', ['Succeeded', 'Failed'], 150_000);
    expect(s).toMatchObject({ phase: 'Failed', reason: 'OOMKilled', exitCode: 137 });
    expect(s.message).toContain('spec.resources.limits.memory');
    // It was really using the memory when it was killed.
    expect((await runtimeEvents('oom')).filter((e) => e.event === 'allocated').length).toBeGreaterThan(1);
  });
});

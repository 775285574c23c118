// What `kubectl pea` prints, as pure functions of the objects and the time.
import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import type { Pea } from '../../../src/api/v1alpha1/types.js';
import { between, duration, table, WIDTH, wrap } from '../../../src/cli/format.js';
import { renderList } from '../../../src/cli/list.js';
import { formatLine, interleave, parseLog } from '../../../src/cli/logs.js';
import { renderStatus, whyStuck } from '../../../src/cli/status.js';

const NOW = new Date('2026-01-01T10:05:00Z');

function pea(status: Pea['status'], spec: Partial<Pea['spec']> = {}): Pea {
  return {
    apiVersion: 'peapods.io/v1alpha1',
    kind: 'Pea',
    metadata: {
      name: 'model',
      namespace: 'ml',
      uid: 'u',
      creationTimestamp: new Date('2026-01-01T10:00:00Z'),
    },
    spec: { image: 'img', ready: { grpc: { port: 50061 } }, ...spec },
    status,
  };
}

function pod(runtimeState: object): V1Pod {
  return {
    metadata: { name: 'model-pea' },
    spec: { nodeName: 'node-a', containers: [] },
    status: {
      phase: 'Pending',
      conditions: [
        { type: 'PodScheduled', status: 'True', lastTransitionTime: new Date('2026-01-01T10:00:01Z') },
      ],
      initContainerStatuses: [
        {
          name: 'pea-runtime',
          image: 'i',
          imageID: '',
          ready: false,
          restartCount: 0,
          state: { running: { startedAt: new Date('2026-01-01T10:00:02Z') } },
        },
      ],
      containerStatuses: [
        { name: 'runtime', image: 'i', imageID: '', ready: false, restartCount: 0, state: runtimeState },
      ],
    },
  };
}

describe('kubectl pea output', () => {
  it('prints durations as kubectl does', () => {
    expect([0, 45_000, 119_000, 192_000, 7_500_000, 3 * 86_400_000 + 4 * 3_600_000].map(duration)).toEqual([
      '0s',
      '45s',
      '119s',
      '3m12s',
      '2h5m',
      '3d4h',
    ]);
  });

  it('takes durations between whole seconds, so the kubelet and operator times agree', () => {
    // Seen on kind: created 15.4, cancel sent 21.9 (the operator's), runtime exited 21 (the
    // kubelet's): +7s and +6s read as if the runtime had exited before the Cancel.
    const created = '2026-11-29T14:20:15.400Z';
    expect(between(created, '2026-11-29T14:20:21.900Z')).toBe(6000);
    expect(between(created, '2026-11-29T14:20:21Z')).toBe(6000);
    expect(between(created, undefined)).toBeUndefined();
  });

  it('wraps and cuts to 100 columns', () => {
    const long = 'word '.repeat(60) + 'x'.repeat(150);
    for (const l of wrap(long, '  ')) expect(l.length).toBeLessThanOrEqual(WIDTH);
    for (const l of table([['a', 'b'.repeat(200)]])) expect(l.length).toBeLessThanOrEqual(WIDTH);
  });

  it('says an image pull back-off on the runtime, against readySeconds', () => {
    const p = pea({ phase: 'Starting', podName: 'model-pea', startTime: '2026-01-01T10:00:00Z' });
    const waiting = { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "img"' } };
    expect(whyStuck(p, pod(waiting), NOW)).toBe(
      'image pull back-off on runtime for 5m of readySeconds 300: Back-off pulling image "img"',
    );
  });

  it('says how long the ready check has failed, from the runtime start', () => {
    const p = pea({ phase: 'Starting', podName: 'model-pea', startTime: '2026-01-01T10:00:00Z' });
    const running = { running: { startedAt: new Date('2026-01-01T10:04:20Z') } };
    expect(whyStuck(p, pod(running), NOW)).toBe(
      'ready check grpc://:50061 failing for 40s of readySeconds 300',
    );
  });

  it('tells a restart and the run before it', () => {
    const p = pea(
      {
        phase: 'Pending',
        restartCount: 2,
        message: 'restart 2 in 20s',
        lastTermination: {
          podName: 'model-pea-1',
          reason: 'RunForeverError',
          message: 'runtime exited with code 3 after it was ready',
          exitCode: 3,
          finishTime: '2026-01-01T10:04:50Z',
          backoffSeconds: 20,
        },
      },
      { restartPolicy: 'Always' },
    );
    const out = renderStatus({ pea: p, warnings: [] }, NOW).join('\n');
    expect(out).toMatch(/^restarts: 2 \(spec\.restartPolicy Always\)$/m);
    expect(out).toMatch(/^last termination: RunForeverError, exit 3 of pod model-pea-1 at 10:04:50Z$/m);
    expect(out).toMatch(/^why: waiting to restart: restart 2 in 20s$/m);
  });

  it('lists a Pea with how long it has been in its phase', () => {
    const p = pea({ phase: 'Ready', readyTime: '2026-01-01T10:01:00Z', conditions: [] });
    expect(renderList([p], NOW, false)).toEqual([
      'NAME    PHASE   IN PHASE   REASON   RESTARTS   AGE',
      'model   Ready   4m                  0          5m',
    ]);
  });

  it('interleaves two logs by the kubelet timestamps, naming the container on each line', () => {
    // The kubelet drops trailing zeros of the fraction: 10:00:02Z is before 10:00:02.25Z.
    const sidecar = parseLog('pea-runtime', '2026-01-01T10:00:01.5Z a\n2026-01-01T10:00:02.25Z c\n');
    const runtime = parseLog('runtime', '2026-01-01T10:00:02Z b\n2026-01-01T10:00:03.000000001Z d\n');
    expect(interleave([sidecar, runtime]).map((l) => formatLine(l, false))).toEqual([
      'pea-runtime | a',
      'runtime     | b',
      'pea-runtime | c',
      'runtime     | d',
    ]);
  });
});

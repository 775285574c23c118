// The operator's pod is deleted while Peas are starting and again while they are being
// cancelled; its Deployment brings a new one. Afterwards every Pea reached the state it
// should, no Pea ever had two pods, and no Pea carries a finalizer.
import { describe, expect, test } from '@jest/globals';
import {
  apply,
  kubectl,
  list,
  NAMESPACE,
  OPERATOR_NAMESPACE,
  pea,
  waitFor,
  waitForGone,
  waitForPhase,
} from './kube.js';

const MINUTE = 60_000;
const NAMES = ['r-0', 'r-1', 'r-2', 'r-3', 'r-4', 'r-5'];

async function restartOperator(): Promise<void> {
  await kubectl([
    'delete',
    'pod',
    '-n',
    OPERATOR_NAMESPACE,
    '-l',
    'app.kubernetes.io/name=peapods',
    '--wait=false',
  ]);
  await kubectl([
    'rollout',
    'status',
    '-n',
    OPERATOR_NAMESPACE,
    'deployment/peapods-operator',
    '--timeout=120s',
  ]);
}

describe('the operator restarted mid-flight', () => {
  test('no duplicate pods, no lost transitions, no finalizer left', async () => {
    const podsSeen = new Map<string, Set<string>>(NAMES.map((n) => [n, new Set()]));
    let watching = true;
    // Every pod that ever existed for these Peas, sampled while the test runs.
    const sampler = (async () => {
      while (watching) {
        for (const p of await list<{ metadata: { uid: string; labels: Record<string, string> } }>(
          'pods',
          'peapods.io/pea',
        ).catch(() => [])) {
          podsSeen.get(p.metadata.labels['peapods.io/pea'] ?? '')?.add(p.metadata.uid);
        }
        await new Promise((r) => setTimeout(r, 300));
      }
    })();

    for (const n of NAMES) await apply(pea(n, { example: 'sleeper' }));
    await restartOperator();
    for (const n of NAMES) await waitForPhase(n, ['Ready'], 3 * MINUTE);

    for (const n of NAMES.slice(0, 3))
      await kubectl(['patch', '-n', NAMESPACE, 'pea', n, '--type=merge', '-p', '{"spec":{"cancel":true}}']);
    for (const n of NAMES.slice(3)) await kubectl(['delete', '-n', NAMESPACE, 'pea', n, '--wait=false']);
    await restartOperator();

    for (const n of NAMES.slice(0, 3)) {
      const s = await waitForPhase(n, ['Succeeded', 'Failed'], 2 * MINUTE);
      expect({ name: n, reason: s.reason }).toEqual({ name: n, reason: 'Cancelled' });
      // Ready was reached and recorded before the cancel, across the restarts.
      expect(s.readyTime).toBeDefined();
      // The restarted operator derived the same token (its key lives in a Secret).
      const reasons = await kubectl([
        'get',
        'events',
        '-n',
        NAMESPACE,
        '--field-selector',
        `involvedObject.name=${n}`,
        '-o',
        'jsonpath={.items[*].reason}',
      ]);
      expect({ name: n, reasons }).toEqual({
        name: n,
        reasons: expect.not.stringContaining('CancelUnauthenticated'),
      });
    }
    for (const n of NAMES.slice(3)) await waitForGone('pea', n, 2 * MINUTE);
    watching = false;
    await sampler;
    for (const n of NAMES) expect({ name: n, pods: podsSeen.get(n)?.size }).toEqual({ name: n, pods: 1 });

    // The cancelled ones carry no finalizer either: they go as soon as they are deleted.
    for (const n of NAMES.slice(0, 3)) await kubectl(['delete', '-n', NAMESPACE, 'pea', n, '--wait=false']);
    for (const n of NAMES.slice(0, 3))
      await waitFor(
        `pea/${n} deleted`,
        async () => {
          const out = await kubectl(['get', '-n', NAMESPACE, 'pea', n, '--ignore-not-found', '-o', 'name']);
          return out.trim() === '' ? true : undefined;
        },
        MINUTE,
      );
  });
});

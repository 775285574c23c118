// A Pea whose pod cannot start, on a real scheduler and kubelet: while it is Starting its
// Ready condition names what the pod waits on in their words, and it fails with that cause
// (at once when the cause cannot heal), not with the advice to wait longer.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import {
  apply,
  condition,
  getJson,
  kubectl,
  NAMESPACE,
  peaStatus,
  podsOf,
  waitFor,
  waitForPhase,
  type PeaObject,
  type PeaStatus,
} from './kube.js';

const MINUTE = 60_000;

/** A Pea of just an image: the sidecar image is the project's, loaded into the node. */
function pea(name: string, image: string, spec: object = {}): object {
  return { apiVersion: 'peapods.io/v1alpha1', kind: 'Pea', metadata: { name }, spec: { image, ...spec } };
}

const PEAS = ['unpullable', 'crowded', 'bad-image-name'];

/** Until the Pea is Starting with its Ready condition's reason one of `reasons`. */
async function waitingOn(name: string, reasons: string[]): Promise<PeaStatus> {
  return waitFor(
    `pea/${name} Starting on ${reasons.join(' or ')}`,
    async () => {
      const s = await peaStatus(name);
      return s?.phase === 'Starting' && reasons.includes(condition(s, 'Ready')?.reason ?? '') ? s : undefined;
    },
    2 * MINUTE,
    250,
  );
}

/** This Pea's Warning Events (by UID: an earlier run's Pea of the same name may have left some). */
async function warnings(name: string): Promise<{ reason: string; message: string }[]> {
  const uid = (await getJson<PeaObject>('pea', name))?.metadata.uid;
  const selector = `involvedObject.uid=${uid},type=Warning`;
  const out = await kubectl(['get', 'events', '-n', NAMESPACE, '--field-selector', selector, '-o', 'json']);
  return (JSON.parse(out) as { items: { reason: string; message: string }[] }).items;
}

/** Until the Pea's pods are gone. */
async function podGone(name: string): Promise<void> {
  const gone = async (): Promise<true | undefined> => ((await podsOf(name)).length === 0 ? true : undefined);
  await waitFor(`the pod of pea/${name} deleted`, gone, MINUTE);
}

describe('a Pea whose pod cannot start says why, and fails with the true cause', () => {
  // Watched from the start, all at once: each wait lasts only until its Pea's readySeconds,
  // and the tests that check them run one after the other.
  const waits: Record<string, Promise<PeaStatus>> = {};
  const watch = (name: string, reasons: string[]): void => {
    waits[name] = waitingOn(name, reasons);
    waits[name].catch(() => undefined); // awaited, and reported, by its test
  };

  const remove = (): Promise<string> =>
    kubectl([
      'delete',
      'pea',
      '-n',
      NAMESPACE,
      '--ignore-not-found',
      '--wait=true',
      '--timeout=60s',
      ...PEAS,
    ]);

  beforeAll(async () => {
    await remove(); // an ended Pea stays ended: a run cut short must not leave its Peas to this one
    // No registry is reachable from the node; registry.invalid cannot even be resolved.
    await apply(pea('unpullable', 'registry.invalid/nope:1', { timeouts: { readySeconds: 40 } }));
    const spec = { resources: { requests: { cpu: '1000' } }, timeouts: { readySeconds: 20 } };
    await apply(pea('crowded', 'peapods/peapods:dev', spec));
    // Upper case is not allowed in a repository name: the kubelet cannot even parse it.
    await apply(pea('bad-image-name', 'registry.invalid/NOPE:1'));
    watch('unpullable', ['ErrImagePull', 'ImagePullBackOff']);
    watch('crowded', ['Unschedulable']);
  });

  afterAll(remove);

  test("an unpullable image: the kubelet's words while Starting, one Warning, then it fails with them", async () => {
    const waiting = (await waits.unpullable) as PeaStatus;
    const ready = condition(waiting, 'Ready');
    expect(ready?.message).toContain('the kubelet cannot pull the image of the runtime container');
    expect(ready?.message).toContain('registry.invalid/nope:1');
    expect(ready?.message).toContain('spec.pod.imagePullSecrets');
    const s = await waitForPhase('unpullable', ['Failed', 'Succeeded'], 2 * MINUTE);
    expect(s.reason).toMatch(/^(ErrImagePull|ImagePullBackOff)$/);
    expect(s.message).toContain('spec.timeouts.readySeconds is 40');
    expect(s.message).toContain('spec.pod.imagePullSecrets');
    expect(s.message).not.toContain('raise spec.timeouts.readySeconds');
    const wait = (await warnings('unpullable')).filter(
      (e) => !e.message.startsWith('the runtime was not ready'),
    );
    expect(wait.map((e) => e.reason)).toHaveLength(1);
    expect(['ErrImagePull', 'ImagePullBackOff']).toContain(wait[0]?.reason);
    await podGone('unpullable');
  });

  test("more CPU than any node has: the scheduler's words while Starting, then Unschedulable", async () => {
    const waiting = (await waits.crowded) as PeaStatus;
    const message = condition(waiting, 'Ready')?.message;
    // The scheduler counts every node: one on the local cluster, three on kind.
    const nodes = (await kubectl(['get', 'nodes', '-o', 'name'])).trim().split('\n').length;
    expect(message).toContain(
      `the scheduler cannot place pod crowded-pea on a node (0/${nodes} nodes are available`,
    );
    expect(message).toContain('Insufficient cpu');
    expect(message).toContain('lower the requests in spec.resources');
    const s = await waitForPhase('crowded', ['Failed', 'Succeeded'], 2 * MINUTE);
    expect(s.reason).toBe('Unschedulable');
    expect(s.message).toContain('Insufficient cpu');
    expect(s.message).not.toContain('raise spec.timeouts.readySeconds');
    expect((await warnings('crowded')).map((e) => e.reason)).toEqual(['Unschedulable', 'Unschedulable']);
  });

  test('an image reference that cannot parse fails at once as InvalidImageName, long before readySeconds', async () => {
    const s = await waitForPhase('bad-image-name', ['Failed', 'Succeeded'], 2 * MINUTE);
    expect(s.reason).toBe('InvalidImageName');
    expect(s.message).toContain('not a valid image reference');
    expect(s.message).toContain('cannot heal');
    // The default readySeconds is 300: it failed on the kubelet's word, not on the clock.
    const started = (s as PeaStatus & { startTime?: string }).startTime as string;
    expect(new Date(s.finishTime as string).getTime() - new Date(started).getTime()).toBeLessThan(MINUTE);
    await podGone('bad-image-name');
  });
});

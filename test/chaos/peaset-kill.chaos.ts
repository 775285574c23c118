// A PeaSet scaled and rolled while its operator is SIGKILLed at random moments and started
// again each time. A watch on the members sees every write in the order etcd made it; after
// each one the test counts the members and the Ready ones, and checks the bounds the
// PeaSet promises: never more members than replicas + maxSurge, never fewer Ready than
// replicas − maxUnavailable once the first rollout is done, no ordinal twice, no member lost
// (every member that went was drained by its PeaSet). Real etcd and kube-apiserver, the
// operator as a process with the RBAC it ships; the test plays the kubelet. CHAOS_SEED=<seed>
// replays the kill timings.
import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { PEASET_PLURAL, type PeaSet, type PeaSetSpec } from '../../src/api/v1alpha1/peaset.js';
import { GROUP, PLURAL, VERSION, type Pea } from '../../src/api/v1alpha1/types.js';
import { memberKubelet } from '../harness/member-kubelet.js';
import { chaosSeed, report, retrying, Rng, sigkill, sleep, startOperatorProcess } from '../harness/chaos.js';
import { chaosSuite } from '../harness/suites.js';
import { freePort, until, type Proc } from '../helpers/processes.js';

const NAMESPACE = 'chaos-peaset';
const SET = 'web';
const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
let operator: Proc | undefined;
const s = chaosSuite(NAMESPACE, { stop: () => operator && sigkill(operator) });

/** One step of the plan, and the bounds that hold while it runs. */
interface Step {
  what: string;
  patch: Partial<PeaSetSpec>;
  /** The most members allowed, the fewest Ready allowed. */
  most: number;
  fewestReady: number;
}

// From 5 members (Surge, maxSurge 1, maxUnavailable 0): scale up and down, two surge rollouts,
// a rollout by Replace (maxUnavailable 1). A scale's bounds span both ends.
const image = (v: number) => ({
  template: { spec: { image: `example/runtime:${v}`, timeouts: { cancelSeconds: 1 } } },
});
const PLAN: Step[] = [
  { what: 'scale 5 → 8', patch: { replicas: 8 }, most: 8 + 1, fewestReady: 5 },
  { what: 'update 8 by Surge', patch: image(2), most: 8 + 1, fewestReady: 8 },
  { what: 'scale 8 → 3', patch: { replicas: 3 }, most: 8, fewestReady: 3 },
  { what: 'scale 3 → 6', patch: { replicas: 6 }, most: 6 + 1, fewestReady: 3 },
  { what: 'update 6 by Surge', patch: image(3), most: 6 + 1, fewestReady: 6 },
  {
    what: 'update 6 by Replace',
    patch: { ...image(4), updateStrategy: { type: 'Replace', maxUnavailable: 1 } },
    most: 6,
    fewestReady: 5,
  },
];

/** The members as a watch shows them, write by write, with the counts the bounds are about. */
class Members {
  readonly peas = new Map<string, Pea>();
  most = 0;
  fewestReady = Number.MAX_SAFE_INTEGER;
  duplicates: string[] = [];
  lost: string[] = [];
  created = 0;

  seen(type: string, pea: Pea): void {
    const name = pea.metadata.name as string;
    if (type === 'ADDED' && !this.peas.has(name)) this.created++;
    if (type === 'DELETED') {
      this.peas.delete(name);
      // Drained by the PeaSet: marked once out of the Service, or ended with nothing to drain.
      const drained = pea.metadata.annotations?.['peapods.io/drained'] !== undefined;
      const ended = !pea.status?.podName || ['Succeeded', 'Failed'].includes(pea.status?.phase ?? '');
      if (!drained && !ended) this.lost.push(name);
    } else this.peas.set(name, pea);
    const live = [...this.peas.values()];
    const ordinals = live
      .filter((p) => !p.metadata.deletionTimestamp)
      .map((p) => p.metadata.labels?.['peapods.io/ordinal']);
    if (new Set(ordinals).size !== ordinals.length) this.duplicates.push(ordinals.join(','));
    for (const p of live)
      if (p.metadata.name !== `${SET}-${p.metadata.labels?.['peapods.io/ordinal']}`)
        this.duplicates.push(p.metadata.name!);
    this.most = Math.max(this.most, live.length);
    this.fewestReady = Math.min(this.fewestReady, live.filter(ready).length);
  }

  /** Starts counting afresh, for the next step. */
  reset(): void {
    this.most = this.peas.size;
    this.fewestReady = [...this.peas.values()].filter(ready).length;
  }
}

const ready = (p: Pea): boolean =>
  !p.metadata.deletionTimestamp &&
  (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** Follows the members from the start (resourceVersion 0 lists them first) until stop() is called. */
function watchMembers(kc: k8s.KubeConfig, members: Members): () => Promise<void> {
  const watch = new k8s.Watch(kc);
  let rv = '0';
  let stopped = false;
  let abort: AbortController | undefined;
  const loop = (async () => {
    while (!stopped) {
      await new Promise<void>((done) => {
        void watch
          .watch(
            `/apis/${GROUP}/${VERSION}/namespaces/${NAMESPACE}/${PLURAL}`,
            { resourceVersion: rv, allowWatchBookmarks: true },
            (type, obj: Pea) => {
              if (type === 'ERROR') return;
              rv = obj.metadata?.resourceVersion ?? rv;
              if (type !== 'BOOKMARK') members.seen(type, obj);
            },
            () => done(),
          )
          .then(
            (a) => (abort = a),
            () => done(),
          );
      });
      await sleep(50);
    }
  })();
  return async () => {
    stopped = true;
    abort?.abort();
    await loop;
  };
}

describe('a PeaSet whose operator is killed with SIGKILL while it scales and rolls', () => {
  const title =
    'keeps its bounds: members ≤ replicas + maxSurge, Ready ≥ replicas − maxUnavailable, no ordinal twice';
  it(`${title}, none lost`, async () => {
    const seed = chaosSeed();
    report(`\n[chaos: PeaSet, operator SIGKILL] seed ${seed} (CHAOS_SEED=${seed} replays it)`);
    const kills = new Rng(seed);
    const custom = s.api.admin.makeApiClient(k8s.CustomObjectsApi);
    const core = s.api.admin.makeApiClient(k8s.CoreV1Api);
    // Nothing listens on the sidecar port at 127.0.0.1: each Cancel is refused, and the pod
    // deleted after cancelSeconds (unscheduled, it goes at once).
    const args = ['--sidecar-grpc-port', String(await freePort())];
    const stopKubelet = memberKubelet(core, { namespace: NAMESPACE, ip: () => '127.0.0.1' });
    const members = new Members();
    const stopWatching = watchMembers(s.api.admin, members);
    const where = { group: GROUP, version: VERSION, namespace: NAMESPACE, plural: PEASET_PLURAL };
    const get = () =>
      retrying('get PeaSet', () =>
        custom.getNamespacedCustomObject({ ...where, name: SET }),
      ) as Promise<PeaSet>;
    const settled = async (): Promise<PeaSet | undefined> => {
      const p = await get();
      const n = p.spec.replicas ?? 1;
      const peas = [...members.peas.values()];
      const ok =
        p.status?.observedGeneration === p.metadata.generation &&
        p.status?.conditions?.some((c) => c.type === 'Progressing' && c.reason === 'RolloutComplete') &&
        peas.length === n &&
        peas.every(
          (x) => ready(x) && x.metadata.labels?.['peapods.io/revision'] === p.status?.updateRevision,
        );
      return ok ? p : undefined;
    };

    operator = startOperatorProcess(s.api.operatorKubeconfigFile, NAMESPACE, args);
    await retrying('create PeaSet', () =>
      custom.createNamespacedCustomObject({
        ...where,
        body: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'PeaSet',
          metadata: { name: SET },
          spec: { replicas: 5, drainSeconds: 0, ...image(1) },
        },
      }),
    );
    await until('the first rollout', settled, 120_000);

    // Each operator lives until the members made 3–25 more writes, or (one run in four) a
    // random moment of its first second; down 0–0.5 s after each kill.
    let killCount = 0;
    let stopKilling = false;
    const killer = (async () => {
      while (!stopKilling) {
        if (kills.chance(0.25)) await sleep(kills.between(0, 1000));
        else await s.recorder.progressed(Math.round(kills.between(3, 25)), () => stopKilling);
        if (stopKilling) return;
        await sigkill(operator!);
        killCount++;
        await sleep(kills.between(0, 500));
        operator = startOperatorProcess(s.api.operatorKubeconfigFile, NAMESPACE, args);
      }
    })();

    const results: Array<Step & { sawMost: number; sawFewestReady: number }> = [];
    const startedAt = Date.now();
    for (const step of PLAN) {
      members.reset();
      await retrying(step.what, () =>
        custom.patchNamespacedCustomObject({ ...where, name: SET, body: { spec: step.patch } }, MERGE),
      );
      await until(step.what, settled, 240_000);
      results.push({ ...step, sawMost: members.most, sawFewestReady: members.fewestReady });
    }
    stopKilling = true;
    await killer;
    await stopWatching();
    await stopKubelet();

    const final = [...members.peas.keys()].sort();
    report(
      `[chaos: PeaSet, operator SIGKILL] ${PLAN.length} steps in ${((Date.now() - startedAt) / 1000).toFixed(0)} s, ` +
        `kills ${killCount}, members created ${members.created}, duplicate ordinals ${members.duplicates.length}, ` +
        `members lost ${members.lost.length}`,
    );
    for (const r of results)
      report(
        `  ${r.what}: most members ${r.sawMost} (bound ${r.most}), ` +
          `fewest Ready ${r.sawFewestReady} (bound ${r.fewestReady})`,
      );
    expect(killCount).toBeGreaterThan(0);
    for (const r of results) {
      expect({ step: r.what, most: r.sawMost <= r.most, ready: r.sawFewestReady >= r.fewestReady }).toEqual({
        step: r.what,
        most: true,
        ready: true,
      });
    }
    expect(members.duplicates).toEqual([]);
    expect(members.lost).toEqual([]);
    expect(final).toEqual([0, 1, 2, 3, 4, 5].map((i) => `${SET}-${i}`));
  });
});

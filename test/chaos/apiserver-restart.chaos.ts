// kube-apiserver restarted, and the operator's connections to it cut, while Peas go
// through their lives: the operator's informers must recover by themselves (no restart of
// the operator) and every Pea still end as it should. After each fault a probe Pea measures
// how long until the operator reconciles again: printed, not asserted (timing is the
// machine's). The operator reaches the API server through a proxy whose connections the
// test resets; the test's own clients and watches go direct.
import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { writeFileSync } from 'node:fs';
import { GROUP, PLURAL, VERSION } from '../../src/api/v1alpha1/types.js';
import { chaosSuite } from '../harness/suites.js';
import {
  chaosSeed,
  finalizersLeft,
  Kubelet,
  lifecycle,
  lostTransitions,
  operatorKubeconfigVia,
  percentile,
  podIp,
  report,
  retrying,
  Rng,
  seconds,
  sleep,
  startOperatorProcess,
  type Ending,
  type LifecycleEnv,
  type LifecycleResult,
} from '../harness/chaos.js';
import { freePort, type Proc } from '../helpers/processes.js';

const NAMESPACE = 'chaos-apiserver';
const CONCURRENCY = 6;
const FAULTS: ReadonlyArray<'restart' | 'cut'> = ['restart', 'cut', 'restart', 'cut', 'restart', 'cut'];

let operator: Proc | undefined;

const s = chaosSuite(NAMESPACE, { proxy: true, stop: () => operator?.child.kill('SIGKILL') });

describe('kube-apiserver restarts and cut watch connections', () => {
  it('the informers recover by themselves: every Pea ends as it should, and the operator never restarts', async () => {
    const seed = chaosSeed();
    report(`\n[chaos: API server faults] seed ${seed} (CHAOS_SEED=${seed} replays it)`);
    const rng = new Rng(seed);
    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    const custom = s.api.admin.makeApiClient(k8s.CustomObjectsApi);
    const kubelet = new Kubelet(s.api.admin, NAMESPACE);
    const env: LifecycleEnv = {
      custom,
      namespace: NAMESPACE,
      recorder: s.recorder,
      kubelet,
      grpcPort,
      httpPort,
      stepMs: 120_000,
    };
    operator = startOperatorProcess(
      operatorKubeconfigVia(s.api, `https://127.0.0.1:${s.proxy.port}`),
      NAMESPACE,
      ['--sidecar-grpc-port', String(grpcPort), '--sidecar-http-port', String(httpPort)],
    );

    // Peas keep going through their lives, CONCURRENCY at a time, until the faults are over.
    let faultsOver = false;
    let next = 0;
    const results: LifecycleResult[] = [];
    const workers = Array.from({ length: CONCURRENCY }, async () => {
      while (!faultsOver) {
        const i = next++;
        const ending: Ending = rng.chance(0.5) ? 'cancel' : 'delete';
        results.push(await lifecycle(env, `pea-${i}`, podIp(12, i), ending, rng.chance(0.5) ? 0 : 143));
      }
    });

    // After each fault: a new Pea gets its pod and first status (the Pea watch and a
    // reconcile are back), then its pod turns Ready (the pod watch is back too).
    const firstReconcile: number[] = [];
    const podWatchBack: number[] = [];
    const probes: string[] = [];
    let connectionsCut = 0;
    // Faults are paced by lifecycles, not by the clock: the same load on any machine.
    const lifecyclesDone = async (n: number): Promise<void> => {
      const target = results.length + n;
      while (results.length < target) await sleep(50);
    };
    await lifecyclesDone(10);
    try {
      await injectFaults();
    } finally {
      faultsOver = true;
    }
    await Promise.all(workers);

    async function injectFaults(): Promise<void> {
      for (const [k, fault] of FAULTS.entries()) {
        const at = Date.now();
        if (fault === 'restart') await s.api.restart(() => sleep(rng.between(1000, 4000)));
        else connectionsCut += s.proxy.cut();
        const back = Date.now();
        const probe = `probe-${k}`;
        probes.push(probe);
        await retrying(`create ${probe}`, () =>
          custom.createNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace: NAMESPACE,
            plural: PLURAL,
            body: {
              apiVersion: `${GROUP}/${VERSION}`,
              kind: 'Pea',
              metadata: { name: probe },
              spec: { image: 'example/runtime:1' },
            },
          }),
        );
        await s.recorder.when(
          `${probe} Starting`,
          () => s.recorder.pea(probe)?.status?.phase === 'Starting',
          120_000,
        );
        firstReconcile.push(Date.now() - back);
        const pod = s.recorder.podsEver(probe)[0]!.metadata!.name!;
        const marked = Date.now();
        await kubelet.running(pod, podIp(13, k), true);
        await s.recorder.when(
          `${probe} Ready`,
          () => s.recorder.pea(probe)?.status?.phase === 'Ready',
          120_000,
        );
        podWatchBack.push(Date.now() - marked);
        // Its runtime finishes by itself: Completed, so that deleting it later is immediate.
        await kubelet.terminated(pod, podIp(13, k), 0);
        report(
          `  fault ${k + 1}: ` +
            `${fault === 'restart' ? `kube-apiserver down for ${seconds(back - at)}` : 'connections cut'}; ` +
            `once it was over, a new Pea reconciled after ` +
            `${seconds(firstReconcile[k]!)}, a pod change acted on ${seconds(podWatchBack[k]!)} after it was made`,
        );
        await lifecyclesDone(Math.round(rng.between(15, 25)));
      }
    }

    // Then every Pea is deleted: each must go, so no finalizer may hold it.
    const present = [...s.recorder.peas.keys()].filter((n) => s.recorder.pea(n));
    await Promise.all(
      present.map((n) =>
        retrying(`delete ${n}`, () =>
          custom.deleteNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace: NAMESPACE,
            plural: PLURAL,
            name: n,
          }),
        ),
      ),
    );
    await s.recorder
      .when('every Pea gone', () => [...s.recorder.peas.values()].every((r) => r.gone), 60_000)
      .catch(() => undefined);

    const names = results.map((r) => r.name);
    const wrongEnd = results.filter((r) => r.problem);
    const duplicates = [...names, ...probes].filter((n) => s.recorder.podsEver(n).length > 1);
    const lost = names
      .map((n) => ({
        name: n,
        lost: lostTransitions(s.recorder.peas.get(n)),
        phases: s.recorder.peas.get(n)?.phases,
      }))
      .filter((x) => x.lost.length > 0);
    const finalizers = finalizersLeft(s.recorder);
    const restarts = FAULTS.filter((f) => f === 'restart').length;
    report(
      `[chaos: API server faults] ${restarts} kube-apiserver restarts, ${FAULTS.length - restarts} cuts ` +
        `(${connectionsCut} operator connections reset); lifecycles ${results.length}, ` +
        `duplicates ${duplicates.length}, lost transitions ${lost.length}, wrong end states ${wrongEnd.length}, ` +
        `finalizers left ${finalizers.length}, operator exits ${operator.child.exitCode === null ? 0 : 1}; ` +
        `${s.recorder.gaps} watch relists, ` +
        `${names.filter((n) => s.recorder.peas.get(n)?.relisted).length} Peas changed phase across one`,
    );
    report(
      `[chaos: API server faults] first reconcile after a fault: p50 ${seconds(percentile(firstReconcile, 50))}, ` +
        `max ${seconds(Math.max(...firstReconcile))}; ` +
        `pod change acted on: p50 ${seconds(percentile(podWatchBack, 50))}, max ${seconds(Math.max(...podWatchBack))}`,
    );
    for (const r of wrongEnd.slice(0, 10)) report(`  ${r.name} (${r.ending}): ${r.problem}`);
    for (const l of lost.slice(0, 10))
      report(`  ${l.name}: lost ${l.lost.join(', ')}; phases seen ${l.phases?.join(' → ')}`);
    if (wrongEnd.length || lost.length || finalizers.length)
      report(`  operator output (tail):\n${operator.output().slice(-4000)}`);
    // The whole log, for looking into a slow recovery: CHAOS_OPERATOR_LOG=/tmp/operator.log.
    if (process.env.CHAOS_OPERATOR_LOG) writeFileSync(process.env.CHAOS_OPERATOR_LOG, operator.output());

    expect(operator.child.exitCode).toBeNull();
    expect(duplicates).toEqual([]);
    expect(lost).toEqual([]);
    expect(wrongEnd.map((r) => `${r.name}: ${r.problem}`)).toEqual([]);
    expect(finalizers).toEqual([]);
  });
});

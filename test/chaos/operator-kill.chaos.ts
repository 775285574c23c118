// The operator SIGKILLed at random moments while hundreds of Peas go through their whole
// lives, restarted each time: afterwards every Pea ended as it should, none ever had two
// pods, no finalizer is left (the operator puts none; a deleted Pea goes by the garbage
// collector's foreground deletion, which the test plays). Real etcd and kube-apiserver, the operator as a process with
// the RBAC it ships, a real sidecar per Pea answering the Cancel RPC; the test plays the
// kubelet. The seed is printed: CHAOS_SEED=<seed> replays the same plan and kill timings.
import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GROUP, PLURAL, VERSION } from '../../src/api/v1alpha1/types.js';
import { chaosSuite } from '../harness/suites.js';
import {
  chaosSeed,
  finalizersLeft,
  Kubelet,
  lifecycle,
  lostTransitions,
  podIp,
  pool,
  report,
  retrying,
  Rng,
  sigkill,
  sleep,
  startOperatorProcess,
  type Ending,
  type LifecycleEnv,
} from '../harness/chaos.js';
import { freePort, type Proc } from '../helpers/processes.js';

const NAMESPACE = 'chaos-kill';
const LIFECYCLES = Number(process.env.CHAOS_LIFECYCLES ?? 300);
const CONCURRENCY = 10;

let operator: Proc | undefined;

const s = chaosSuite(NAMESPACE, { stop: () => operator && sigkill(operator) });

describe('the operator killed with SIGKILL at random moments', () => {
  it(`loses nothing over ${LIFECYCLES} Pea lifecycles: no second pod, no lost transition or finalizer`, async () => {
    const seed = chaosSeed();
    report(`\n[chaos: operator SIGKILL] seed ${seed} (CHAOS_SEED=${seed} replays it)`);
    const plan = new Rng(seed);
    const kills = new Rng(seed ^ 0x9e3779b9);
    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    const operatorArgs = ['--sidecar-grpc-port', String(grpcPort), '--sidecar-http-port', String(httpPort)];
    const env: LifecycleEnv = {
      custom: s.api.admin.makeApiClient(k8s.CustomObjectsApi),
      namespace: NAMESPACE,
      recorder: s.recorder,
      kubelet: new Kubelet(s.api.admin, NAMESPACE),
      grpcPort,
      httpPort,
      stepMs: 90_000,
    };
    const peas = Array.from({ length: LIFECYCLES }, (_, i) => ({
      name: `pea-${i}`,
      ip: podIp(11, i),
      ending: (plan.chance(0.5) ? 'cancel' : 'delete') as Ending,
      // What the kubelet reports for the runtime container: a clean exit, or SIGTERM's 143.
      exitCode: plan.chance(0.5) ? 0 : 143,
    }));

    // The load, in lifecycle terms: each operator lives until the Peas made 4–40 more
    // transitions (a pod created, a phase changed), so a slow machine gets as many kills per
    // lifecycle as a fast one, and every operator run first moves something forward. One run
    // in four (never two in a row) is killed at a random moment of its first second instead,
    // often before its caches have synced. Down 0–0.5 s after each kill.
    const startedAt = Date.now();
    operator = startOperatorProcess(s.api.operatorKubeconfigFile, NAMESPACE, operatorArgs);
    let killCount = 0;
    let earlyKills = 0;
    let stopKilling = false;
    const outputs: string[] = [];
    const killer = (async () => {
      let early = false;
      while (!stopKilling) {
        early = !early && kills.chance(0.25);
        if (early) await sleep(kills.between(0, 1000));
        else await s.recorder.progressed(Math.round(kills.between(4, 40)), () => stopKilling);
        if (stopKilling) return;
        await sigkill(operator!);
        killCount++;
        if (early) earlyKills++;
        outputs.push(operator!.output());
        await sleep(kills.between(0, 500));
        operator = startOperatorProcess(s.api.operatorKubeconfigFile, NAMESPACE, operatorArgs);
      }
    })();

    const results = await pool(peas.length, CONCURRENCY, (i) => {
      const p = peas[i]!;
      return lifecycle(env, p.name, p.ip, p.ending, p.exitCode);
    });
    stopKilling = true;
    await killer;
    const lifecyclesMs = Date.now() - startedAt;

    // The rest, with the operator left alone: delete the Peas cancelled by spec; every one
    // must go (no finalizer holds it, whatever state an operator left it in).
    const left = peas.filter((p) => s.recorder.pea(p.name));
    await Promise.all(
      left.map((p) =>
        retrying(`delete ${p.name}`, () =>
          env.custom.deleteNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace: NAMESPACE,
            plural: PLURAL,
            name: p.name,
          }),
        ),
      ),
    );
    await s.recorder
      .when('every Pea gone', () => peas.every((p) => s.recorder.peas.get(p.name)?.gone), 60_000)
      .catch(() => undefined);

    const wrongEnd = results.filter((r) => r.problem);
    const duplicates = peas
      .filter((p) => s.recorder.podsEver(p.name).length > 1)
      .map(
        (p) =>
          `${p.name}: ${s.recorder
            .podsEver(p.name)
            .map((x) => x.metadata?.name)
            .join(', ')}`,
      );
    const lost = peas
      .map((p) => ({
        name: p.name,
        lost: lostTransitions(s.recorder.peas.get(p.name)),
        phases: s.recorder.peas.get(p.name)?.phases,
      }))
      .filter((x) => x.lost.length > 0);
    const finalizers = finalizersLeft(s.recorder);
    const podCount = peas.reduce((n, p) => n + s.recorder.podsEver(p.name).length, 0);

    report(
      `[chaos: operator SIGKILL] lifecycles ${results.length} ` +
        `(${peas.filter((p) => p.ending === 'cancel').length} by spec.cancel, ` +
        `${peas.filter((p) => p.ending === 'delete').length} by delete), ` +
        `concurrency ${CONCURRENCY}, in ${(lifecyclesMs / 1000).toFixed(0)} s`,
    );
    report(
      `[chaos: operator SIGKILL] kills ${killCount} (${(killCount / results.length).toFixed(2)} per lifecycle; ` +
        `${earlyKills} in an operator's first second), ` +
        `pods created ${podCount}, duplicates ${duplicates.length}, lost transitions ${lost.length}, ` +
        `wrong end states ${wrongEnd.length}, finalizers left ${finalizers.length}, watch gaps ${s.recorder.gaps}`,
    );
    for (const r of wrongEnd.slice(0, 10)) report(`  ${r.name} (${r.ending}): ${r.problem}`);
    for (const l of lost.slice(0, 10))
      report(`  ${l.name}: lost ${l.lost.join(', ')}; phases seen ${l.phases?.join(' → ')}`);
    if (wrongEnd.length || lost.length || finalizers.length || duplicates.length) {
      const file = join(tmpdir(), `peapods-chaos-operator-${seed}.log`);
      writeFileSync(
        file,
        [...outputs, operator!.output()].map((o, i) => `--- operator run ${i + 1}\n${o}`).join('\n'),
      );
      report(`  every operator run's output: ${file}`);
    }

    expect(s.recorder.gaps).toBe(0);
    expect(killCount).toBeGreaterThan(0);
    expect(duplicates).toEqual([]);
    expect(lost).toEqual([]);
    expect(wrongEnd.map((r) => `${r.name}: ${r.problem}`)).toEqual([]);
    expect(finalizers).toEqual([]);
  });
});

// Two operator replicas with --leader-elect; the leader SIGKILLed while it is cancelling a
// batch of Peas: the standby takes the Lease over once it expires and finishes every cancel
// in flight (each Pea Cancelled, then gone if deleted, no finalizer left, no second pod). Repeated a
// few rounds, a fresh standby started after each kill. The takeover time is printed next
// to --lease-duration-seconds, not asserted (it is the machine's).
import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../src/api/v1alpha1/types.js';
import { chaosSuite } from '../harness/suites.js';
import {
  bringUp,
  chaosSeed,
  finalizersLeft,
  finish,
  Kubelet,
  lostTransitions,
  percentile,
  podIp,
  pool,
  report,
  requestCancel,
  retrying,
  Rng,
  seconds,
  sigkill,
  sleep,
  startOperatorProcess,
  type Ending,
  type LifecycleEnv,
  type LifecycleResult,
} from '../harness/chaos.js';
import { freePort, until, type Proc } from '../helpers/processes.js';

const NAMESPACE = 'chaos-leader';
const LEASE_SECONDS = 4;
const ROUNDS = 3;
const PEAS_PER_ROUND = 12;

const replicas: Proc[] = [];

const s = chaosSuite(NAMESPACE, { stop: () => replicas.forEach((r) => r.child.kill('SIGKILL')) });

const leads = (p: Proc): boolean => p.logLines().some((l) => l.msg === 'became leader');
const ledAt = (p: Proc): number =>
  Date.parse(p.logLines().find((l) => l.msg === 'became leader')?.time as string);
const alive = (p: Proc): boolean => p.child.exitCode === null && p.child.signalCode === null;
/** Lines the operator logs when its Cancel RPC got an answer. */
const cancelsSent = (p: Proc): number => p.logLines().filter((l) => l.msg === 'Cancel RPC sent').length;

describe('leader election under fire', () => {
  it('the standby takes over from a SIGKILLed leader and finishes its in-flight cancels', async () => {
    const seed = chaosSeed();
    report(`\n[chaos: leader failover] seed ${seed} (CHAOS_SEED=${seed} replays it)`);
    const rng = new Rng(seed);
    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    const flags = [
      '--leader-elect',
      '--lease-duration-seconds',
      String(LEASE_SECONDS),
      '--sidecar-grpc-port',
      String(grpcPort),
      '--sidecar-http-port',
      String(httpPort),
    ];
    const startReplica = (): Proc => {
      const p = startOperatorProcess(s.api.operatorKubeconfigFile, NAMESPACE, flags);
      replicas.push(p);
      return p;
    };
    const env: LifecycleEnv = {
      custom: s.api.admin.makeApiClient(k8s.CustomObjectsApi),
      namespace: NAMESPACE,
      recorder: s.recorder,
      kubelet: new Kubelet(s.api.admin, NAMESPACE),
      grpcPort,
      httpPort,
      stepMs: 60_000,
    };
    startReplica();
    startReplica();

    const takeovers: number[] = [];
    const results: LifecycleResult[] = [];
    let n = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const running = replicas.filter(alive);
      const leader = await until('a leader', () => running.find(leads), 30_000);
      const standby = running.find((p) => p !== leader)!;

      // A batch of Ready Peas, then all cancelled at once, half by spec.cancel, half by delete.
      const batch = Array.from({ length: PEAS_PER_ROUND }, () => {
        const i = n++;
        return {
          name: `pea-${i}`,
          ip: podIp(14, i),
          ending: (rng.chance(0.5) ? 'cancel' : 'delete') as Ending,
          exitCode: rng.chance(0.5) ? 0 : 143,
        };
      });
      const up = await pool(batch.length, 6, (i) => bringUp(env, batch[i]!.name, batch[i]!.ip));
      const sentBefore = cancelsSent(leader);
      const cancelled = Promise.all(batch.map((b) => requestCancel(env, b.name, b.ending)));

      // Killed once its first Cancel of the batch went out, plus 0–150 ms: Cancels in flight.
      await until('the leader to send a Cancel', () => cancelsSent(leader) > sentBefore, 30_000);
      await sleep(rng.between(0, 150));
      await sigkill(leader);
      const killedAt = Date.now();
      const stoppedAtKill = up.filter((r) => r.sidecar.proc.child.exitCode !== null).length;
      await cancelled;
      const done = await Promise.all(batch.map((b, i) => finish(env, up[i]!, b.ending, b.exitCode)));
      results.push(...done);
      await until('the standby to lead', () => leads(standby), 5_000).catch(() => undefined);
      const took = leads(standby) ? ledAt(standby) - killedAt : NaN;
      takeovers.push(took);
      report(
        `  round ${round}: leader killed after ${cancelsSent(leader) - sentBefore} of ${batch.length} ` +
          `Cancels answered (${stoppedAtKill} sidecars had exited); ` +
          `standby led after ${seconds(took)} (lease ${LEASE_SECONDS} s); ` +
          `all ${batch.length} ended ${seconds(Date.now() - killedAt)} after the kill`,
      );
      startReplica(); // the next round's standby
    }

    // The Peas cancelled by spec.cancel are deleted too: every one must go.
    const present = [...s.recorder.peas.keys()].filter((name) => s.recorder.pea(name));
    await Promise.all(
      present.map((name) =>
        retrying(`delete ${name}`, () =>
          env.custom.deleteNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace: NAMESPACE,
            plural: PLURAL,
            name,
          }),
        ),
      ),
    );
    await s.recorder
      .when('every Pea gone', () => [...s.recorder.peas.values()].every((r) => r.gone), 60_000)
      .catch(() => undefined);

    const wrongEnd = results.filter((r) => r.problem);
    const duplicates = results.filter((r) => s.recorder.podsEver(r.name).length > 1).map((r) => r.name);
    const lost = results
      .map((r) => ({
        name: r.name,
        lost: lostTransitions(s.recorder.peas.get(r.name)),
        phases: s.recorder.peas.get(r.name)?.phases,
      }))
      .filter((x) => x.lost.length > 0);
    const finalizers = finalizersLeft(s.recorder);
    const valid = takeovers.filter(Number.isFinite);
    report(
      `[chaos: leader failover] ${ROUNDS} leaders killed mid-cancel, ${results.length} Peas cancelled; ` +
        `takeover after the kill: p50 ${seconds(percentile(valid, 50))}, ` +
        `max ${seconds(Math.max(...valid))} with --lease-duration-seconds ${LEASE_SECONDS} ` +
        `(renew every ${(LEASE_SECONDS / 5).toFixed(1)} s)`,
    );
    report(
      `[chaos: leader failover] duplicates ${duplicates.length}, lost transitions ${lost.length}, ` +
        `wrong end states ${wrongEnd.length}, finalizers left ${finalizers.length}`,
    );
    for (const r of wrongEnd.slice(0, 10)) report(`  ${r.name} (${r.ending}): ${r.problem}`);
    for (const l of lost.slice(0, 10))
      report(`  ${l.name}: lost ${l.lost.join(', ')}; phases seen ${l.phases?.join(' → ')}`);

    expect(takeovers.every(Number.isFinite)).toBe(true);
    expect(s.recorder.gaps).toBe(0);
    expect(duplicates).toEqual([]);
    expect(lost).toEqual([]);
    expect(wrongEnd.map((r) => `${r.name}: ${r.problem}`)).toEqual([]);
    expect(finalizers).toEqual([]);
  });
});

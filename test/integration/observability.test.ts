// What people operating Peapods look at, on a real API server with the operator running as a
// process: the `kubectl pea` plugin (run as the executable, with its own kubeconfig, context
// and namespace), status.timeline, and the operator's /metrics, checked by promtool and
// against the chart's dashboard. No kubelet runs here: the test writes pod status as the
// kubelet would, with the times of each step.
import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { operatorSuite } from '../harness/suites.js';
import { goTool } from '../helpers/go-tools.js';
import { freePort, ROOT, tempDir, until } from '../helpers/processes.js';

const NS = 'observe';
const CLI = join(ROOT, 'dist/src/cli/main.js');
let metricsPort: number;
let kubeconfig: string;
const s = operatorSuite(NS, {
  args: async () => {
    metricsPort = await freePort();
    // Nothing listens there: the Cancel RPC is unreachable, and the test plays the runtime's end.
    return [
      '--metrics-bind-address',
      `127.0.0.1:${metricsPort}`,
      '--sidecar-grpc-port',
      String(await freePort()),
    ];
  },
});

/**
 * A kubeconfig whose current context points nowhere, and a context `test` (namespace NS) to
 * the API server: a command that works honours --context, and NS comes from that context.
 */
function writeKubeconfig(): string {
  const admin = JSON.parse(s.api.admin.exportConfig()) as {
    clusters: Array<{ name: string; cluster: object }>;
    users: Array<{ name: string }>;
  };
  const file = join(tempDir(), 'kubeconfig');
  const user = admin.users[0]?.name as string;
  const config = {
    ...admin,
    clusters: [...admin.clusters, { name: 'nowhere', cluster: { server: 'https://127.0.0.1:1' } }],
    contexts: [
      { name: 'test', context: { cluster: admin.clusters[0]?.name, user, namespace: NS } },
      { name: 'wrong', context: { cluster: 'nowhere', user } },
    ],
    'current-context': 'wrong',
  };
  writeFileSync(file, JSON.stringify(config));
  return file;
}

/** `kubectl pea ARGS` in context `test`: its exit code, stdout and stderr. */
async function pea(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  kubeconfig ??= writeKubeconfig();
  try {
    const r = await promisify(execFile)(process.execPath, [CLI, '--kubeconfig', kubeconfig, ...args], {
      timeout: 60_000,
    });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}
/** `kubectl pea ARGS` in context `test`; with KUBECTL_PEA_TRANSCRIPT=FILE its output is kept there too. */
async function inTest(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await pea('--context', 'test', ...args);
  const file = process.env.KUBECTL_PEA_TRANSCRIPT;
  if (file) appendFileSync(file, `$ kubectl pea ${args.join(' ')}\n${r.out}${r.err}\n`);
  return r;
}

const T = (base: number, s: number) => new Date(base + s * 1000);

/**
 * The scheduler (a real binding to node-a: the API server marks the pod PodScheduled) and the
 * kubelet, step by step: sidecar up 1 s after the pod's creation, runtime 2 s, ready 3 s (or
 * not). Written once those times have passed, as a kubelet would.
 */
async function kubeletUp(name: string, ready: boolean): Promise<k8s.V1Pod> {
  const pod = await s.cluster.podOf(name);
  const podName = pod.metadata!.name!;
  await s.cluster.core.createNamespacedPodBinding({
    name: podName,
    namespace: NS,
    body: { metadata: { name: podName }, target: { kind: 'Node', name: 'node-a' } },
  });
  const t0 = new Date(pod.metadata!.creationTimestamp!).getTime();
  await new Promise((r) => setTimeout(r, Math.max(0, t0 + 3500 - Date.now())));
  const bound = await s.cluster.core.readNamespacedPod({ name: podName, namespace: NS });
  const scheduled = bound.status?.conditions?.filter((c) => c.type === 'PodScheduled') ?? [];
  const running = (s: number) => ({ running: { startedAt: T(t0, s) } });
  await s.cluster.podStatus(pod, {
    phase: 'Running',
    podIP: '127.0.0.1',
    conditions: [
      ...scheduled,
      { type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: T(t0, ready ? 3 : 1) },
    ],
    initContainerStatuses: [
      { name: 'pea-runtime', image: 'i', imageID: '', ready, restartCount: 0, state: running(1) },
    ],
    containerStatuses: [
      { name: 'runtime', image: 'i', imageID: '', ready, restartCount: 0, state: running(2) },
    ],
  });
  return pod;
}

/** The runtime exited 0 after a cancel and the sidecar after its teardown: the pod's run is over. */
async function kubeletCancelled(pod: k8s.V1Pod): Promise<void> {
  const now = Date.now();
  const ended = (s: number) => ({
    terminated: { exitCode: 0, startedAt: T(now, -60), finishedAt: T(now, s) },
  });
  await s.cluster.podStatus(pod, {
    phase: 'Succeeded',
    podIP: '127.0.0.1',
    conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: T(now, 0) }],
    initContainerStatuses: [
      { name: 'pea-runtime', image: 'i', imageID: '', ready: false, restartCount: 0, state: ended(1) },
    ],
    containerStatuses: [
      { name: 'runtime', image: 'i', imageID: '', ready: false, restartCount: 0, state: ended(0) },
    ],
  });
}

const fits = (out: string) => expect(out.split('\n').filter((l) => l.length > 100)).toEqual([]);

describe('kubectl pea', () => {
  it('status of a Ready Pea: phase, pod and node, and every step of the timeline with its duration', async () => {
    await s.cluster.createPea('ready', { ready: { grpc: { port: 50061 } } });
    await kubeletUp('ready', true);
    const ready = await s.cluster.peaUntil('ready', 'Ready', (p) => p.status?.phase === 'Ready');
    // The API server kept status.timeline (the CRD declares it), written with the Ready status.
    expect(Object.keys(ready.status?.timeline ?? {}).sort()).toEqual([
      'podScheduledTime',
      'readyCheckTime',
      'runtimeStartedTime',
      'sidecarStartedTime',
    ]);
    const r = await inTest('status', 'ready');
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toMatch(/^Pea observe\/ready: Ready \(RuntimeReady\)$/m);
    expect(r.out).toMatch(/^pod: ready-pea on node node-a, IP 127\.0\.0\.1, pod phase Running$/m);
    expect(r.out).toMatch(/^restarts: 0 \(spec\.restartPolicy Never\)$/m);
    expect(r.out).toMatch(/^ {2}pod scheduled +\d\d:\d\d:\d\dZ +\+\d+s +\d+s$/m);
    for (const [step, since] of [
      ['sidecar started', '1s'],
      ['runtime started', '2s'],
      ['ready check passed', '3s'],
    ])
      expect(r.out).toMatch(new RegExp(`^  ${step} +\\d\\d:\\d\\d:\\d\\dZ +\\+${since} +\\d+s$`, 'm'));
    expect(r.out).toMatch(/^ {2}created +\d\d:\d\d:\d\dZ +\+0s$/m);
    expect(r.out).toMatch(/^ {2}Ready +\d\d:\d\d:\d\dZ +\+\d+s +\d+s$/m);
    expect(r.out).not.toMatch(/^why:/m);
    fits(r.out);
  });

  it('status of a Pea whose ready check fails says so in one line, against its readySeconds', async () => {
    await s.cluster.createPea('stuck', { ready: { grpc: { port: 50061 } }, timeouts: { readySeconds: 300 } });
    await kubeletUp('stuck', false);
    await s.cluster.peaUntil(
      'stuck',
      'RuntimeNotReady',
      (p) => p.status?.conditions?.find((c) => c.type === 'Ready')?.reason === 'RuntimeNotReady',
    );
    const r = await inTest('status', 'stuck');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Pea observe\/stuck: Starting \(RuntimeNotReady\)$/m);
    expect(r.out).toMatch(/^why: ready check grpc:\/\/:50061 failing for \d+s of readySeconds 300$/m);
    expect(r.out).toMatch(/^ {2}\(now, Starting\) /m);
    fits(r.out);
  });

  it('list: every Pea with its phase, time in phase and reason', async () => {
    const r = await inTest('list');
    expect(r.code).toBe(0);
    const rows = r.out.trim().split('\n');
    expect(rows[0]).toMatch(/^NAME +PHASE +IN PHASE +REASON +RESTARTS +AGE$/);
    expect(r.out).toMatch(/^ready +Ready +\d+s +RuntimeReady +0 +\d+s$/m);
    expect(r.out).toMatch(/^stuck +Starting +\d+s +RuntimeNotReady +0 +\d+s$/m);
    const all = await inTest('list', '-A');
    expect(all.out).toMatch(/^NAMESPACE +NAME +PHASE/);
    expect(all.out).toMatch(/^observe +ready +Ready/m);
    fits(r.out + all.out);
  });

  it('cancel --wait sets spec.cancel, waits for the end and says how it ended', async () => {
    await s.cluster.createPea('stop', { ready: { grpc: { port: 50061 } } });
    const pod = await kubeletUp('stop', true);
    await s.cluster.peaUntil('stop', 'Ready', (p) => p.status?.phase === 'Ready');
    const waiting = inTest('cancel', 'stop', '--wait', '--timeout', '60s');
    await s.cluster.peaUntil('stop', 'cancel sent', (p) => Boolean(p.status?.cancelTime));
    await kubeletCancelled(pod);
    const r = await waiting;
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^pea observe\/stop: spec\.cancel set; waiting for it to end$/m);
    expect(r.out).toMatch(/^pea observe\/stop ended: Succeeded \(Cancelled\) \d+s after the cancel$/m);
    // The operator's Warning (nothing answered its Cancel RPC here) is among the last ones shown.
    const st = await until('the Warning shown', async () => {
      const r = await inTest('status', 'stop');
      return /CancelUnreachable/.test(r.out) ? r : undefined;
    });
    expect(st.out).toMatch(
      /^Last Warning Events:\n {2}AGE +REASON +MESSAGE\n {2}\d+s ago +CancelUnreachable +the /m,
    );
    expect(st.out).toMatch(/^Pea observe\/stop: Succeeded \(Cancelled\)$/m);
    for (const step of ['cancel sent', 'runtime exited', 'teardown done', 'ended'])
      expect(st.out).toMatch(new RegExp(`^  ${step} +\\d\\d:\\d\\d:\\d\\dZ +\\+\\d+s +\\d+s$`, 'm'));
    expect(st.out).toMatch(/^pod: stop-pea/m);
    fits(st.out);
    // A Pea that has ended is not cancelled again.
    expect(await inTest('cancel', 'stop')).toMatchObject({
      code: 0,
      out: expect.stringMatching(/already ended/),
    });
  });

  it('cancel --wait gives up at --timeout with exit code 5, naming the Pea and its phase', async () => {
    await s.cluster.createPea('slowstop', { timeouts: { cancelSeconds: 300 } });
    await kubeletUp('slowstop', true);
    await s.cluster.peaUntil('slowstop', 'Ready', (p) => p.status?.phase === 'Ready');
    const r = await inTest('cancel', 'slowstop', '--wait', '--timeout', '2s');
    expect(r.code).toBe(5);
    expect(r.out).toMatch(/pea observe\/slowstop has not ended after 2s: it is (Ready|Cancelling)/);
  });

  it('names the Pea and the namespace in errors, with exit codes scripts can use', async () => {
    const missing = await inTest('status', 'nope');
    expect(missing).toMatchObject({ code: 3, out: '' });
    expect(missing.err).toBe('kubectl pea: pea "nope" not found in namespace "observe"\n');
    // -n wins over the context's namespace.
    const elsewhere = await inTest('-n', 'other', 'status', 'ready');
    expect(elsewhere.code).toBe(3);
    expect(elsewhere.err).toMatch(/pea "ready" not found in namespace "other"/);
    // Without --context, the kubeconfig's current context (a server that is not there).
    const unreachable = await pea('-n', NS, 'status', 'ready');
    expect(unreachable.code).toBe(1);
    expect(unreachable.err).toMatch(/^kubectl pea: cannot read pea "ready" in namespace "observe": /);
    expect((await inTest('--context', 'nope', 'list')).code).toBe(2);
    const usage = await inTest('cancel', 'stop', '--timeout', 'soon');
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/expected a duration/);
    // logs needs a kubelet, which this API server has none of: the error says whose logs.
    const logs = await inTest('logs', 'ready');
    expect(logs.code).toBe(1);
    expect(logs.err).toMatch(/cannot read the logs of container \S+ of pod ready-pea \(pea observe\/ready\)/);
  });

  it('--help for each command', async () => {
    for (const cmd of ['status', 'cancel', 'logs', 'list']) {
      const r = await pea(cmd, '--help');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(new RegExp(`^Usage: kubectl pea ${cmd} `));
      fits(r.out);
    }
  });
});

describe('the operator /metrics', () => {
  const scrape = async (): Promise<string> => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();

  it('passes promtool check metrics, with the lifecycle measured by the runs above', async () => {
    const text = await until('ends counted', async () => {
      const t = await scrape();
      return /^peapods_pea_ends_total\{phase="Succeeded",reason="Cancelled"\} 1$/m.test(t) ? t : undefined;
    });
    const promtool = goTool('promtool');
    const check = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = execFile(promtool, ['check', 'metrics'], (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
      );
      child.stdin?.end(text);
    });
    expect(check).toEqual({ code: 0, out: '' });
    // Two Peas reached Ready, one cancel was measured end to end, none restarted.
    expect(text).toMatch(/^peapods_pea_time_to_ready_seconds_count 3$/m);
    expect(text).toMatch(/^peapods_pea_cancel_to_exit_seconds_count 1$/m);
    expect(text).toMatch(/^peapods_pea_teardown_seconds_count 1$/m);
    expect(text).toMatch(/^peapods_pea_restarts_total 0$/m);
    expect(text).toMatch(/^peapods_peas\{phase="Starting"\} 1$/m);
    expect(text).toMatch(/^peapods_peas_starting_overdue 0$/m);
    // No Pea's name in any label: cardinality stays bounded however many Peas run.
    for (const name of ['ready', 'stuck', 'stop', 'slowstop'])
      expect(text).not.toMatch(new RegExp(`"${name}"`));
  });

  it("has every metric the chart's Grafana dashboard queries", async () => {
    const dashboard = JSON.parse(
      readFileSync(join(ROOT, 'charts/peapods/dashboards/peapods.json'), 'utf8'),
    ) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
    };
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    const queried = new Set(
      exprs.flatMap((e) => e.match(/\b(peapods|controller_runtime|workqueue)_[a-z_]+/g) ?? []),
    );
    const text = await scrape();
    const families = new Set([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => m[1]));
    const missing = [...queried].filter((m) => !families.has(m.replace(/_(bucket|sum|count)$/, '')));
    expect(queried.size).toBeGreaterThanOrEqual(8);
    expect(missing).toEqual([]);
    expect(dashboard.panels.map((p) => p.title)).toEqual(
      expect.arrayContaining([
        'Peas by phase',
        'Time to Ready (p50, p99)',
        'Ends by reason',
        'Reconcile errors',
      ]),
    );
  });
});

// Another tenant cannot cancel a Pea. A Pea runs in a namespace of its own; an unprivileged
// pod in another namespace, with no rights at all, tries the sidecar's ports as any pod could
// dial them: GET /prestop and /status on the HTTP port and the Lifecycle Cancel on the gRPC
// port, each without a token, and the runtime's own port. Whatever the CNI, none of it
// cancels the Pea: the tokens refuse it (401, UNAUTHENTICATED), and where the CNI enforces
// NetworkPolicy (kind) the operator's policy, which it put into the Pea's namespace itself,
// lets no connection through at all. The runtime's own port answers in both cases, and the
// operator still cancels the Pea.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { apply, kubectl, peaStatus, waitFor, waitForPhase, IMAGE } from './kube.js';

const MINUTE = 60_000;
const TENANT = 'peapods-e2e-tenant';
const ATTACKER = 'peapods-e2e-attacker';
/** On kind the CNI (kube-router; kindnetd with Docker) enforces NetworkPolicy; the local cluster's bridge does not. */
const ENFORCED = process.env.CLUSTER === 'kind';

/** What the attacker pod tries, printed as one JSON line: each outcome as a string. */
const PROBE = `
const net = require('net'), http = require('http'), ip = process.env.TARGET;
const tcp = (port) => new Promise((r) => {
  const s = net.connect({ host: ip, port, timeout: 3000 });
  s.on('connect', () => { s.destroy(); r('connected'); });
  s.on('timeout', () => { s.destroy(); r('no connection'); });
  s.on('error', (e) => r(e.code));
});
const get = (path) => new Promise((r) => {
  const q = http.get({ host: ip, port: 50052, path, timeout: 3000 }, (res) => {
    res.resume();
    r('HTTP ' + res.statusCode);
  });
  q.on('timeout', () => { q.destroy(); r('no connection'); });
  q.on('error', (e) => r(e.code));
});
(async () => {
  const { lifecycleClient } = await import('/app/dist/src/shared/lifecycle-proto.js');
  const cancel = await new Promise((r) => lifecycleClient(ip + ':50051').cancel({ reason: 'another tenant' },
    { deadline: Date.now() + 3000 }, (err) => r(err ? 'gRPC ' + err.code : 'gRPC OK')));
  const out = { prestop: await get('/prestop'), status: await get('/status'), cancel, runtime: await tcp(50061) };
  console.log(JSON.stringify(out));
  process.exit(0);
})();`;

function attacker(target: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'attacker' },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'attacker',
          image: IMAGE,
          imagePullPolicy: 'IfNotPresent',
          command: ['node', '-e', PROBE],
          env: [{ name: 'TARGET', value: target }],
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        },
      ],
    },
  };
}

const guarded = {
  apiVersion: 'peapods.io/v1alpha1',
  kind: 'Pea',
  metadata: { name: 'guarded' },
  spec: {
    image: IMAGE,
    command: ['node', '/app/dist/examples/sleeper.js'],
    ready: { grpc: { port: 50061 } },
  },
};

describe('a pod of another tenant', () => {
  let podIP: string;
  let outcome: Record<string, string>;

  beforeAll(async () => {
    for (const ns of [TENANT, ATTACKER]) await kubectl(['create', 'namespace', ns]);
    await apply(guarded, TENANT);
    await kubectl(['wait', '-n', TENANT, '--for=condition=Ready', 'pea/guarded', '--timeout=180s']);
    const pod = (await peaStatus('guarded', TENANT))?.podName as string;
    podIP = (await kubectl(['get', 'pod', '-n', TENANT, pod, '-o', 'jsonpath={.status.podIP}'])).trim();
    await apply(attacker(podIP), ATTACKER);
    await waitFor(
      'the attacker pod to finish',
      async () => {
        const phase = (
          await kubectl(['get', 'pod', '-n', ATTACKER, 'attacker', '-o', 'jsonpath={.status.phase}'])
        ).trim();
        if (phase === 'Failed') throw new Error(await kubectl(['logs', '-n', ATTACKER, 'attacker']));
        return phase === 'Succeeded' ? true : undefined;
      },
      2 * MINUTE,
    );
    outcome = JSON.parse(
      (await kubectl(['logs', '-n', ATTACKER, 'attacker'])).trim().split('\n').pop() as string,
    );
  }, 5 * MINUTE);

  afterAll(async () => {
    await kubectl(['delete', 'namespace', TENANT, ATTACKER, '--ignore-not-found', '--timeout=120s']);
  }, 3 * MINUTE);

  test("finds the operator's NetworkPolicy in the Pea's namespace, which no chart value named", async () => {
    const policy = 'peapods-operator-pea-sidecar';
    const selector = await kubectl([
      'get',
      'networkpolicy',
      '-n',
      TENANT,
      policy,
      '-o',
      'jsonpath={.spec.podSelector}',
    ]);
    expect(JSON.parse(selector)).toEqual({
      matchExpressions: [{ key: 'peapods.io/pea', operator: 'Exists' }],
      matchLabels: { 'app.kubernetes.io/managed-by': 'peapods' },
    });
  });

  const how = ENFORCED
    ? 'kind: no connection at all'
    : 'no NetworkPolicy enforced: refused for want of a token';
  test(`cannot cancel through /prestop, /status or Cancel (${how})`, () => {
    if (ENFORCED) {
      // Dropped (a timeout) or rejected (refused, unreachable), as the CNI chooses; never an answer.
      const none = ['no connection', 'ECONNREFUSED', 'EHOSTUNREACH'];
      const connected = (what: string): boolean => !none.includes(outcome[what] as string);
      expect({ prestop: connected('prestop'), status: connected('status') }).toEqual({
        prestop: false,
        status: false,
      });
      expect(['gRPC 4', 'gRPC 14']).toContain(outcome.cancel); // DEADLINE_EXCEEDED or UNAVAILABLE
      expect(outcome.runtime).toBe('connected');
    } else {
      expect(outcome).toEqual({
        prestop: 'HTTP 401',
        status: 'HTTP 401',
        cancel: 'gRPC 16',
        runtime: 'connected',
      });
    }
  });

  test('leaves the Pea Ready and its runtime untouched', async () => {
    const s = await peaStatus('guarded', TENANT);
    expect(s?.phase).toBe('Ready');
    expect(s?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    const pod = s?.podName as string;
    const restarts = await kubectl([
      'get',
      'pod',
      '-n',
      TENANT,
      pod,
      '-o',
      'jsonpath={.status.containerStatuses[*].restartCount}',
    ]);
    expect(restarts.trim()).toBe('0');
    if (!ENFORCED) {
      // The refusals reached the sidecar, which logged each one without a token.
      const log = await kubectl(['logs', '-n', TENANT, pod, '-c', 'pea-runtime']);
      expect(log).toContain('hook call refused');
      expect(log).toContain('control call refused');
    }
  });

  test('while the operator still cancels it', async () => {
    await kubectl([
      'patch',
      '-n',
      TENANT,
      'pea',
      'guarded',
      '--type=merge',
      '-p',
      '{"spec":{"cancel":true}}',
    ]);
    const s = await waitForPhase('guarded', ['Succeeded', 'Failed'], MINUTE, TENANT);
    expect(s.reason).toBe('Cancelled');
    const events = await kubectl([
      'get',
      'events',
      '-n',
      TENANT,
      '--field-selector',
      'involvedObject.name=guarded',
      '-o',
      'jsonpath={.items[*].reason}',
    ]);
    expect(events).not.toContain('CancelUnreachable');
  });
});

// Real traffic through a Service while a PeaSet scales 5 → 2, rolls 5 members and has a
// member's pod evicted: every member drains before it stops, so no request fails. The same
// runtime as a Deployment with default settings gets the same traffic and the same steps in
// the same run; its failures are reported beside (not asserted: it is the baseline). Needs a
// cluster whose Services route (kind: kube-proxy); the runtime takes 200 ms per request
// (examples/slow-http.ts), the client opens a new connection per request (examples/load.ts).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { apply, getJson, IMAGE, kubectl, NAMESPACE, waitFor } from './kube.js';

const REPLICAS = 5;
const ROLL_MS = 300_000;

/** One JSON line of examples/load.ts. */
interface Totals {
  ok: number;
  failed: number;
  causes: Record<string, number>;
}

const command = ['node', '/app/dist/examples/slow-http.js'];
const env = (rev: string) => [
  { name: 'DELAY_MS', value: '200' },
  { name: 'REVISION', value: rev },
];

function peaSet(rev: string): object {
  return {
    apiVersion: 'peapods.io/v1alpha1',
    kind: 'PeaSet',
    metadata: { name: 'slow' },
    spec: {
      replicas: REPLICAS,
      service: { ports: [{ port: 80, targetPort: 8080 }] },
      template: {
        spec: {
          image: IMAGE,
          command,
          env: env(rev),
          ready: { http: { port: 8080, path: '/healthz' } },
          timeouts: { readySeconds: 120, cancelSeconds: 10, teardownSeconds: 15 },
        },
      },
    },
  };
}

/** The baseline: the same container as a Deployment with default settings, and a Service. */
function deployment(rev: string): object[] {
  const labels = { app: 'slow-deploy' };
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'slow-deploy' },
      spec: {
        replicas: REPLICAS,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            containers: [
              {
                name: 'slow',
                image: IMAGE,
                imagePullPolicy: 'IfNotPresent',
                command,
                env: env(rev),
                readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  capabilities: { drop: ['ALL'] },
                  runAsNonRoot: true,
                  seccompProfile: { type: 'RuntimeDefault' },
                },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'slow-deploy' },
      spec: { selector: labels, ports: [{ port: 80, targetPort: 8080 }] },
    },
  ];
}

/** A client pod sending steady traffic to `url`; stop() ends it and returns its totals. */
async function startLoad(
  name: string,
  url: string,
): Promise<{ stop(): Promise<Totals>; now(): Promise<Totals> }> {
  await apply({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      terminationGracePeriodSeconds: 30,
      containers: [
        {
          name: 'load',
          image: IMAGE,
          imagePullPolicy: 'IfNotPresent',
          command: ['node', '/app/dist/examples/load.js', url, '4'],
          securityContext: {
            allowPrivilegeEscalation: false,
            capabilities: { drop: ['ALL'] },
            runAsNonRoot: true,
            seccompProfile: { type: 'RuntimeDefault' },
          },
        },
      ],
    },
  });
  const last = async (): Promise<Totals> => {
    const lines = (await kubectl(['logs', '-n', NAMESPACE, name])).trim().split('\n');
    return JSON.parse(lines.at(-1) as string) as Totals;
  };
  await waitFor(
    'traffic flowing',
    async () => ((await last().catch(() => undefined))?.ok ?? 0) > 20 || undefined,
    120_000,
  );
  return {
    now: last,
    stop: async () => {
      // The client prints its totals every second: the line after the steps settled counts all.
      await new Promise((r) => setTimeout(r, 2500));
      const totals = await last();
      await kubectl(['delete', 'pod', '-n', NAMESPACE, name, '--wait=false']);
      return totals;
    },
  };
}

async function serviceUrl(name: string): Promise<string> {
  const svc = await waitFor(
    `Service ${name}`,
    async () =>
      (await getJson<{ spec: { clusterIP?: string } }>('service', name))?.spec.clusterIP
        ? getJson<{ spec: { clusterIP: string } }>('service', name)
        : undefined,
    60_000,
  );
  return `http://${svc!.spec.clusterIP}:80/`;
}

/**
 * Evicts one pod through the Eviction API, as `kubectl drain` does, 429s included: while the
 * disruption budget allows none, the API answers TooManyRequests, and drain asks again every 5 s.
 */
async function evict(pod: string): Promise<void> {
  const body = { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod, namespace: NAMESPACE } };
  const path = `/api/v1/namespaces/${NAMESPACE}/pods/${pod}/eviction`;
  await waitFor(
    `the eviction of ${pod}`,
    async () => {
      try {
        await kubectl(['create', '--raw', path, '-f', '-'], JSON.stringify(body));
        return true;
      } catch (e) {
        if (String(e).includes('TooManyRequests')) return undefined;
        throw e;
      }
    },
    120_000,
    5_000,
  );
}

interface SetStatus {
  metadata: { generation: number };
  spec: { replicas: number };
  status?: {
    observedGeneration?: number;
    availableReplicas?: number;
    replicas?: number;
    conditions?: { type: string; reason: string }[];
  };
}
const peaSetSettled = (n: number) => async () => {
  const s = await getJson<SetStatus>('peaset', 'slow');
  const ok =
    s?.status?.observedGeneration === s?.metadata.generation &&
    s?.status?.availableReplicas === n &&
    s?.status?.replicas === n &&
    s?.status?.conditions?.some((c) => c.type === 'Progressing' && c.reason === 'RolloutComplete');
  return ok ? true : undefined;
};
const deploymentSettled = (n: number) => async () => {
  const d = await getJson<{ metadata: { generation: number }; status?: Record<string, number> }>(
    'deployment',
    'slow-deploy',
  );
  const s = d?.status ?? {};
  const ok =
    s.observedGeneration === d?.metadata.generation &&
    s.availableReplicas === n &&
    s.updatedReplicas === n &&
    s.replicas === n &&
    !s.unavailableReplicas;
  return ok ? true : undefined;
};

beforeAll(async () => {
  // helm upgrade leaves a chart's crds/ alone: the PeaSet CRD goes in as kubectl would.
  await kubectl(['apply', '-f', 'deploy/crd/peasets.peapods.io.yaml']);
  await kubectl(['wait', '--for=condition=Established', 'crd/peasets.peapods.io', '--timeout=60s']);
}, 120_000);

afterAll(async () => {
  await kubectl([
    'delete',
    '-n',
    NAMESPACE,
    'peaset/slow',
    'deployment/slow-deploy',
    'service/slow-deploy',
    'pod/load-peaset',
    'pod/load-deploy',
    '--ignore-not-found',
    '--wait=false',
  ]).catch(() => undefined);
}, 120_000);

describe('a PeaSet under steady traffic', () => {
  const title = 'fails 0 requests while it scales 5 → 2, rolls 5 members and has a pod evicted';
  it(`${title}; a default Deployment beside`, async () => {
    // The PeaSet.
    await apply(peaSet('1'));
    await waitFor('PeaSet slow available', peaSetSettled(REPLICAS), ROLL_MS);
    const setLoad = await startLoad('load-peaset', await serviceUrl('slow'));
    await kubectl(['scale', '-n', NAMESPACE, 'peaset/slow', '--replicas=2']);
    await waitFor('PeaSet at 2', peaSetSettled(2), ROLL_MS);
    await kubectl(['scale', '-n', NAMESPACE, 'peaset/slow', `--replicas=${REPLICAS}`]);
    await waitFor('PeaSet back at 5', peaSetSettled(REPLICAS), ROLL_MS);
    await apply(peaSet('2'));
    await waitFor('PeaSet rolled', peaSetSettled(REPLICAS), ROLL_MS);
    const member = await getJson<{ status: { podName: string } }>('pea', 'slow-1');
    await evict(member!.status.podName);
    await waitFor(
      'the evicted member back',
      async () => {
        const m = await getJson<{ status: { podName: string; phase: string } }>('pea', 'slow-1');
        return m && m.status.podName !== member!.status.podName && m.status.phase === 'Ready'
          ? true
          : undefined;
      },
      ROLL_MS,
    );
    await waitFor('PeaSet settled', peaSetSettled(REPLICAS), ROLL_MS);
    const peapods = await setLoad.stop();

    // The baseline, the same steps.
    for (const o of deployment('1')) await apply(o);
    await waitFor('Deployment available', deploymentSettled(REPLICAS), ROLL_MS);
    const deployLoad = await startLoad('load-deploy', await serviceUrl('slow-deploy'));
    await kubectl(['scale', '-n', NAMESPACE, 'deployment/slow-deploy', '--replicas=2']);
    await waitFor('Deployment at 2', deploymentSettled(2), ROLL_MS);
    await kubectl(['scale', '-n', NAMESPACE, 'deployment/slow-deploy', `--replicas=${REPLICAS}`]);
    await waitFor('Deployment back at 5', deploymentSettled(REPLICAS), ROLL_MS);
    for (const o of deployment('2')) await apply(o);
    await waitFor('Deployment rolled', deploymentSettled(REPLICAS), ROLL_MS);
    const pods = JSON.parse(
      await kubectl(['get', 'pods', '-n', NAMESPACE, '-l', 'app=slow-deploy', '-o', 'json']),
    ) as {
      items: { metadata: { name: string; deletionTimestamp?: string } }[];
    };
    await evict(pods.items.find((p) => !p.metadata.deletionTimestamp)!.metadata.name);
    await new Promise((r) => setTimeout(r, 3000));
    await waitFor('Deployment settled', deploymentSettled(REPLICAS), ROLL_MS);
    const baseline = await deployLoad.stop();

    process.stdout.write(
      `\n[e2e: PeaSet drain] scale 5→2, scale 2→5, roll 5, evict 1 under traffic (200 ms/request, 4 clients):\n` +
        `  PeaSet (Surge, drainSeconds 5): ${peapods.ok} ok, ${peapods.failed} failed ` +
        `${JSON.stringify(peapods.causes)}\n` +
        `  Deployment (defaults):          ${baseline.ok} ok, ${baseline.failed} failed ` +
        `${JSON.stringify(baseline.causes)}\n`,
    );
    expect(peapods.ok).toBeGreaterThan(100);
    expect(baseline.ok).toBeGreaterThan(100);
    expect(peapods.failed).toBe(0);
  }, 1_800_000);
});

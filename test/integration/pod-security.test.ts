// Pea pods under the Pod Security Standard "restricted", on a real API server: its PodSecurity
// admission plugin is on by default, so a namespace labelled enforce=restricted refuses any
// pod that runs as root, may escalate privileges, keeps a capability or has no seccomp
// profile. The operator runs as a process with the RBAC it ships.
import { describe, expect, it } from '@jest/globals';
import type { V1Pod, V1PodSpec } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { OPERATOR_MANIFEST } from '../harness/apiserver.js';
import { operatorSuite } from '../harness/suites.js';
import { ROOT, until } from '../helpers/processes.js';

const NS = 'restricted';
const s = operatorSuite(NS, {
  labels: {
    'pod-security.kubernetes.io/enforce': 'restricted',
    'pod-security.kubernetes.io/enforce-version': 'latest',
  },
});

/** The API server's answer to creating this pod as cluster admin: '' when admitted. */
async function admission(name: string, spec: V1PodSpec): Promise<string> {
  try {
    await s.cluster.core.createNamespacedPod({ namespace: NS, body: { metadata: { name }, spec } });
    return '';
  } catch (err) {
    const e = err as { code?: number; body?: unknown };
    return `${e.code}: ${typeof e.body === 'string' ? e.body : JSON.stringify(e.body)}`;
  }
}

/** Messages of the Warning events about this Pea (FailedCreatePod today, InvalidSpec once reported). */
async function warnings(pea: string): Promise<string[]> {
  const list = await s.cluster.core.listNamespacedEvent({
    namespace: NS,
    fieldSelector: `involvedObject.name=${pea}`,
  });
  return list.items.filter((e) => e.type === 'Warning').map((e) => `${e.reason}: ${e.message ?? ''}`);
}

describe('Pod Security Standard restricted', () => {
  it('is enforced in the test namespace (else the tests below prove nothing)', async () => {
    const refused = await admission('root', {
      containers: [{ name: 'c', image: 'example/any:1', securityContext: { runAsUser: 0 } }],
    });
    expect(refused).toMatch(/^403: /);
    expect(refused).toContain('violates PodSecurity');
    expect(refused).toContain('restricted:latest');
  });

  it('admits the pod the operator builds for a Pea', async () => {
    await s.cluster.createPea('plain', { ready: { grpc: { port: 50061 } } });
    const pod = await s.cluster.podOf('plain');
    expect(pod.spec?.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
      expect([c.name, c.securityContext]).toEqual([
        c.name,
        expect.objectContaining({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } }),
      ]);
    }
    // The sidecar signals the runtime through the shared PID namespace: same UID, no capability.
    expect(pod.spec?.shareProcessNamespace).toBe(true);
    await s.cluster.peaUntil('plain', 'Starting', (p) => p.status?.phase === 'Starting');
  });

  it("admits the operator's own pod, as the chart renders it", async () => {
    const docs = parseAllDocuments(readFileSync(join(ROOT, OPERATOR_MANIFEST), 'utf8')).map(
      (d) => d.toJS() as { kind?: string; spec?: { template: { spec: V1PodSpec } } },
    );
    const deployment = docs.find((d) => d?.kind === 'Deployment');
    expect(deployment).toBeDefined();
    expect(await admission('operator', deployment!.spec!.template.spec)).toBe('');
  });

  it("refuses a Pea that asks to run as root, and the API server's reason reaches the user", async () => {
    await s.cluster.createPea('as-root', { pod: { securityContext: { runAsUser: 0, runAsNonRoot: false } } });
    const message = await until(
      'a Warning event with the PodSecurity refusal',
      async () => (await warnings('as-root')).find((m) => m.includes('violates PodSecurity')),
      20_000,
    );
    expect(message).toContain('runAsUser=0');
    expect(message).toContain('runAsNonRoot');
    expect(await s.cluster.podsOf('as-root')).toEqual([] as V1Pod[]);
  });

  // PodSecurity answers 403 Forbidden; the operator treats it like a 422: a fact about the spec.
  it("reports that refusal on the Pea: Failed, InvalidSpec, with the API server's message", async () => {
    const failed = await s.cluster.peaUntil('as-root', 'Failed', (p) => p.status?.phase === 'Failed', 5_000);
    expect(failed.status?.reason).toBe('InvalidSpec');
    expect(failed.status?.message).toContain('violates PodSecurity');
  });
});

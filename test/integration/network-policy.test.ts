// The Pea NetworkPolicy in every namespace where Peas run, on a real API server: the operator,
// with the RBAC it ships (patch on networkpolicies, nothing else for them) and the policy file
// the chart mounts (deploy/peapods-operator.yaml's ConfigMap), applies the policy in a
// namespace before the first Pea pod there, wherever that namespace is, and puts back a copy
// someone changed. No CNI runs here: what the policy admits is tested in
// test/unit/security/chart.test.ts, and enforced on kind by test/e2e/tenant.test.ts.
import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { OPERATOR_MANIFEST } from '../harness/apiserver.js';
import { operatorSuite } from '../harness/suites.js';
import { GROUP, PLURAL, VERSION } from '../../src/api/v1alpha1/types.js';
import { FIELD_MANAGER } from '../../src/operator/network-policy.js';
import { ROOT, tempDir, until } from '../helpers/processes.js';

const POLICY_PREFIX = 'peapods-operator-pea-';
interface Doc {
  kind?: string;
  metadata?: { name?: string };
  data?: Record<string, string>;
}
const shipped = parseAllDocuments(readFileSync(join(ROOT, OPERATOR_MANIFEST), 'utf8'))
  .map((d) => d.toJS() as Doc)
  .filter(Boolean);
const configMap = shipped.find(
  (d) => d.kind === 'ConfigMap' && d.metadata?.name === `${POLICY_PREFIX}network-policy`,
);
const policyJson = Object.values(configMap?.data ?? {})[0] as string;
const POLICY = 'peapods-operator-pea-sidecar';
const OTHER_NS = ['team-a', 'team-b'];

const s = operatorSuite('netpol-home', {
  args: () => {
    const file = join(tempDir(), 'pea-network-policy.json');
    writeFileSync(file, policyJson);
    // --namespace '' after the harness's own: this operator watches every namespace.
    return ['--network-policy-file', file, '--namespace', ''];
  },
});

const net = (): k8s.NetworkingV1Api => s.api.admin.makeApiClient(k8s.NetworkingV1Api);
const policyIn = (namespace: string): Promise<k8s.V1NetworkPolicy | undefined> =>
  net()
    .readNamespacedNetworkPolicy({ name: POLICY, namespace })
    .catch((err: { code?: number }) => {
      if (err.code === 404) return undefined;
      throw err;
    });

async function peaIn(namespace: string, name: string): Promise<void> {
  const spec = { image: 'example/runtime:1' };
  const body = { apiVersion: `${GROUP}/${VERSION}`, kind: 'Pea', metadata: { name }, spec };
  const api = { group: GROUP, version: VERSION, namespace, plural: PLURAL };
  await s.cluster.custom.createNamespacedCustomObject({ ...api, body });
}

const podsIn = async (namespace: string): Promise<number> =>
  (await s.cluster.core.listNamespacedPod({ namespace })).items.length;

describe('the Pea NetworkPolicy', () => {
  it('ships in the chart as a ConfigMap the operator reads', () => {
    const want = { kind: 'NetworkPolicy', metadata: { name: POLICY }, spec: { policyTypes: ['Ingress'] } };
    expect(JSON.parse(policyJson)).toMatchObject(want);
  });

  it('is applied before the first Pea pod of a namespace, in every namespace, with the shipped RBAC', async () => {
    for (const ns of OTHER_NS) {
      await s.cluster.core.createNamespace({ body: { metadata: { name: ns } } });
      expect(await policyIn(ns)).toBeUndefined();
      await peaIn(ns, 'model');
      await until(`a pod in ${ns}`, async () => (await podsIn(ns)) > 0);
      const policy = await policyIn(ns);
      // Applied before the pod was created, so it is there as soon as the pod is.
      expect(policy?.spec).toEqual(k8sSpec(JSON.parse(policyJson).spec));
      expect(policy?.metadata?.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'peapods' });
      expect(policy?.metadata?.managedFields?.map((f) => f.manager)).toEqual([FIELD_MANAGER]);
    }
  });

  it('takes back a policy someone changed before the operator came to its namespace', async () => {
    const ns = 'tampered';
    await s.cluster.core.createNamespace({ body: { metadata: { name: ns } } });
    // Someone opened the sidecar ports to everyone, and gave the policy another selector.
    await net().createNamespacedNetworkPolicy({
      namespace: ns,
      body: {
        metadata: { name: POLICY },
        spec: { podSelector: { matchLabels: { app: 'nothing' } }, policyTypes: ['Ingress'], ingress: [{}] },
      },
    });
    await peaIn(ns, 'model');
    await until('a pod', async () => (await podsIn(ns)) > 0);
    expect((await policyIn(ns))?.spec).toEqual(k8sSpec(JSON.parse(policyJson).spec));
  });

  it('leaves namespaces without Peas alone', async () => {
    await s.cluster.core.createNamespace({ body: { metadata: { name: 'no-peas' } } });
    await peaIn(s.cluster.namespace, 'home');
    await until('a pod at home', async () => (await podsIn(s.cluster.namespace)) > 0);
    expect(await policyIn('no-peas')).toBeUndefined();
    expect(await policyIn(s.cluster.namespace)).toBeDefined();
  });
});

/** The shipped spec as client-node reads it back (`from` becomes `_from`). */
function k8sSpec(
  spec: { ingress?: Array<{ from?: unknown; ports?: unknown }> } & Record<string, unknown>,
): object {
  const rename = ({ from, ...rule }: { from?: unknown }): object =>
    from === undefined ? rule : { ...rule, _from: from };
  return { ...spec, ingress: spec.ingress?.map(rename) };
}

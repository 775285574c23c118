import { describe, expect, it } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/shared/logger.js';
import {
  checkTemplate,
  FIELD_MANAGER,
  loadPolicyTemplate,
  NetworkPolicies,
  policyFor,
  type PolicyTemplate,
} from '../../../src/operator/network-policy.js';

const template: PolicyTemplate = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'peapods-operator-pea-sidecar', labels: { 'app.kubernetes.io/managed-by': 'peapods' } },
  spec: {
    podSelector: { matchLabels: { a: 'b' } },
    policyTypes: ['Ingress'],
    ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8' } }] }],
  },
};

describe('the policy template (--network-policy-file)', () => {
  it('is copied into a namespace unchanged but for metadata.namespace', () => {
    const copy = policyFor(template, 'ml');
    expect(copy).toEqual({ ...template, metadata: { ...template.metadata, namespace: 'ml' } });
    expect(template.metadata).not.toHaveProperty('namespace'); // pure: the template is left as it was
  });

  it.each([
    ['not JSON', 'NetworkPolicy', /it must hold one NetworkPolicy as JSON/],
    [
      'another kind',
      JSON.stringify({ ...template, kind: 'ConfigMap' }),
      /not networking.k8s.io\/v1 NetworkPolicy/,
    ],
    ['no name', JSON.stringify({ ...template, metadata: {} }), /metadata.name is missing/],
    [
      'a namespace of its own',
      JSON.stringify({ ...template, metadata: { name: 'x', namespace: 'y' } }),
      /metadata.namespace is set/,
    ],
    [
      'no podSelector',
      JSON.stringify({ ...template, spec: { policyTypes: ['Ingress'] } }),
      /spec.podSelector is missing/,
    ],
  ])('is refused when it is %s, naming the flag and the file', (_what, content, why) => {
    const file = join(mkdtempSync(join(tmpdir(), 'netpol-')), 'policy.json');
    writeFileSync(file, content);
    expect(() => loadPolicyTemplate(file)).toThrow(why);
    expect(() => loadPolicyTemplate(file)).toThrow(`--network-policy-file ${file}`);
  });

  it('is refused when the file is missing', () => {
    expect(() => loadPolicyTemplate('/nonexistent/policy.json')).toThrow(/ENOENT/);
  });

  it('passes the check when it is a NetworkPolicy with a name and a podSelector', () => {
    expect(checkTemplate(JSON.parse(JSON.stringify(template)), 'test')).toEqual(template);
  });
});

/** A NetworkingV1Api that records applies and fails the first `failures` of them. */
function fakeApi(failures = 0): { api: k8s.NetworkingV1Api; calls: Array<Record<string, unknown>> } {
  const calls: Array<Record<string, unknown>> = [];
  const api = {
    patchNamespacedNetworkPolicy: async (req: Record<string, unknown>) => {
      calls.push(req);
      if (calls.length <= failures)
        throw Object.assign(new Error('networkpolicies is forbidden'), { code: 403 });
      return req.body;
    },
  } as unknown as k8s.NetworkingV1Api;
  return { api, calls };
}

describe('NetworkPolicies.ensure', () => {
  const log = createLogger('test', 'silent');

  it('applies once per namespace, however many pods and reconciles at once', async () => {
    const { api, calls } = fakeApi();
    const keeper = new NetworkPolicies(api, template, log);
    await Promise.all([keeper.ensure('a'), keeper.ensure('a'), keeper.ensure('b')]);
    await keeper.ensure('a');
    expect(calls.map((c) => c.namespace)).toEqual(['a', 'b']);
    const first = { name: template.metadata.name, fieldManager: FIELD_MANAGER, force: true };
    expect(calls[0]).toMatchObject({ ...first, body: policyFor(template, 'a') });
  });

  it('never throws, and tries again next time when an apply failed', async () => {
    const { api, calls } = fakeApi(1);
    const keeper = new NetworkPolicies(api, template, log);
    await expect(keeper.ensure('a')).resolves.toBeUndefined();
    await keeper.ensure('a');
    await keeper.ensure('a');
    expect(calls).toHaveLength(2);
  });
});

// Least privilege, checked both ways: every (apiGroup, resource, verb) the rendered
// deploy/peapods-operator.yaml grants must be one the operator's code (src/operator/**) uses,
// and every one it uses must be granted. "Uses" is read off the source: the client-node
// methods it calls, the watch paths its informers open, and the few permissions the API
// server checks on the operator's behalf. The tables below say which is which; a call the
// tables do not know fails the test, naming the row to add.
import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { JsonCoreApi } from '../../../src/operator/json-api.js';
import { ROOT } from '../../helpers/processes.js';

type Grant = readonly [apiGroup: string, resource: string, verb: string];
const PEAS = 'peapods.io';

/**
 * `Class.method` of client-node → the permission the request needs. CustomObjectsApi takes
 * the group and plural as arguments: every such call in src/operator names GROUP and PLURAL
 * (peapods.io, peas), which a test below checks.
 */
const CALLS: Record<string, Grant> = {
  // Pod informer (list; its watch is in WATCH_PATHS), one pod per run, deleted on ReadyTimeout,
  // CancelTimeout, a restart's old pod, and a Cancel with no pod IP yet.
  'CoreV1Api.listNamespacedPod': ['', 'pods', 'list'],
  'CoreV1Api.listPodForAllNamespaces': ['', 'pods', 'list'],
  'CoreV1Api.createNamespacedPod': ['', 'pods', 'create'],
  'CoreV1Api.deleteNamespacedPod': ['', 'pods', 'delete'],
  // The Pea's control-token Secret (src/operator/token.ts): created, never read back; and the
  // operator's own key Secret, created when missing.
  'CoreV1Api.createNamespacedSecret': ['', 'secrets', 'create'],
  // The operator's key Secret: the one Secret it reads (resourceNames, in its namespace).
  'CoreV1Api.readNamespacedSecret': ['', 'secrets', 'get'],
  // core/v1 Events, one per transition.
  'CoreV1Api.createNamespacedEvent': ['', 'events', 'create'],
  // A draining PeaSet member's pod loses the label its Service selects (src/operator/peaset).
  'CoreV1Api.patchNamespacedPod': ['', 'pods', 'patch'],
  // A PeaSet's Service and PodDisruptionBudget, server-side applied.
  'CoreV1Api.patchNamespacedService': ['', 'services', 'patch'],
  'PolicyV1Api.patchNamespacedPodDisruptionBudget': ['policy', 'poddisruptionbudgets', 'patch'],
  // The EndpointSlice informer (list) of the PeaSet controller: is a draining member still listed?
  'DiscoveryV1Api.listNamespacedEndpointSlice': ['discovery.k8s.io', 'endpointslices', 'list'],
  'DiscoveryV1Api.listEndpointSliceForAllNamespaces': ['discovery.k8s.io', 'endpointslices', 'list'],
  // Pea and PeaSet informers (list); finalizers (merge patch); status through /status; a
  // PeaSet's members created and deleted. The resource is the call's plural (CUSTOM_PLURALS).
  'CustomObjectsApi.createNamespacedCustomObject': [PEAS, 'peas', 'create'],
  'CustomObjectsApi.deleteNamespacedCustomObject': [PEAS, 'peas', 'delete'],
  'CustomObjectsApi.listNamespacedCustomObject': [PEAS, 'peas', 'list'],
  'CustomObjectsApi.listClusterCustomObject': [PEAS, 'peas', 'list'],
  'CustomObjectsApi.patchNamespacedCustomObject': [PEAS, 'peas', 'patch'],
  'CustomObjectsApi.patchNamespacedCustomObjectStatus': [PEAS, 'peas/status', 'patch'],
  // The Pea NetworkPolicy, server-side applied in each Pea namespace (src/operator/network-policy.ts).
  'NetworkingV1Api.patchNamespacedNetworkPolicy': ['networking.k8s.io', 'networkpolicies', 'patch'],
  // Leader election (src/operator/leader.ts): read, create when missing, replace to renew.
  'CoordinationV1Api.readNamespacedLease': ['coordination.k8s.io', 'leases', 'get'],
  'CoordinationV1Api.createNamespacedLease': ['coordination.k8s.io', 'leases', 'create'],
  'CoordinationV1Api.replaceNamespacedLease': ['coordination.k8s.io', 'leases', 'update'],
};

/** The plural constants a CustomObjectsApi call names, and the resource each is. */
const CUSTOM_PLURALS: Record<string, string> = { PLURAL: 'peas', PEASET_PLURAL: 'peasets' };

/** Informer paths (makeInformer opens `?watch=true` on them): the watch verb. */
const WATCH_PATHS: Record<string, Grant> = {
  '/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}': [PEAS, 'peas', 'watch'],
  '/apis/${GROUP}/${VERSION}/${PLURAL}': [PEAS, 'peas', 'watch'],
  '/api/v1/namespaces/${ns}/pods': ['', 'pods', 'watch'],
  '/api/v1/pods': ['', 'pods', 'watch'],
  '/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PEASET_PLURAL}': [PEAS, 'peasets', 'watch'],
  '/apis/${GROUP}/${VERSION}/${PEASET_PLURAL}': [PEAS, 'peasets', 'watch'],
  '/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices': [
    'discovery.k8s.io',
    'endpointslices',
    'watch',
  ],
  '/apis/discovery.k8s.io/v1/endpointslices': ['discovery.k8s.io', 'endpointslices', 'watch'],
};

/**
 * What the API server checks on the operator's behalf when it writes something (admission),
 * keyed by the source text that causes it.
 */
const IMPLIED: Array<{ source: RegExp; grant: Grant; why: string }> = [
  {
    source: /blockOwnerDeletion: true/,
    grant: [PEAS, 'peas/finalizers', 'update'],
    why:
      'OwnerReferencesPermissionEnforcement: setting blockOwnerDeletion on a pod ' +
      "needs update on its owner's finalizers",
  },
  {
    source: /ownedBy\(set, PEASET_KIND\)/,
    grant: [PEAS, 'peasets/finalizers', 'update'],
    why: 'OwnerReferencesPermissionEnforcement: a PeaSet owns its members, Service and budget with blockOwnerDeletion',
  },
  {
    source: /patchNamespacedService\(/,
    grant: ['', 'services', 'create'],
    why: "server-side apply of a PeaSet's Service that does not exist yet is authorized as create",
  },
  {
    source: /patchNamespacedPodDisruptionBudget\(/,
    grant: ['policy', 'poddisruptionbudgets', 'create'],
    why: "server-side apply of a PeaSet's PodDisruptionBudget that does not exist yet is authorized as create",
  },
  {
    source: /patchNamespacedNetworkPolicy\(/,
    grant: ['networking.k8s.io', 'networkpolicies', 'create'],
    why:
      'server-side apply of an object that does not exist yet creates it, ' +
      'and the API server authorizes that as create',
  },
];

/** Leader election is granted in the operator's own namespace only (a Role, not the ClusterRole). */
const NAMESPACED_ONLY = ['leases'];

const key = (g: Grant): string => `${g[0] || 'core'}/${g[1]}:${g[2]}`;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The code without comments, so a method named in a comment is not taken for a call. */
const stripComments = (text: string): string =>
  text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');

const files = sourceFiles(join(ROOT, 'src/operator')).map((f) => ({
  file: relative(ROOT, f),
  code: stripComments(readFileSync(f, 'utf8')),
}));
const code = files.map((f) => f.code).join('\n');

/** client-node's API classes and their request methods, from the library itself. */
const apiClasses = new Map<string, Set<string>>(
  Object.entries(k8s)
    .filter(
      ([name, v]) =>
        /^[A-Z]\w*Api$/.test(name) &&
        typeof v === 'function' &&
        name !== 'KubernetesObjectApi' &&
        !name.startsWith('Object') &&
        !name.startsWith('Observable'),
    )
    .map(([name, v]) => [
      name,
      new Set(
        Object.getOwnPropertyNames((v as { prototype: object }).prototype).filter((m) => m !== 'constructor'),
      ),
    ]),
);

/** The API classes src/operator instantiates: `makeApiClient(k8s.CoreV1Api)`. */
const madeClasses = [
  ...new Set([...code.matchAll(/makeApiClient\(\s*k8s\.(\w+)\s*\)/g)].map((m) => m[1] as string)),
];

/** A custom-objects call's grant, for the resource its `plural:` argument names (peas when none). */
function customGrant(grant: Grant | undefined, text: string, at: number | undefined): Grant | undefined {
  if (!grant) return undefined;
  const plural = /plural: (\w+)/.exec(text.slice(at, (at ?? 0) + 400))?.[1];
  const resource = plural ? CUSTOM_PLURALS[plural] : undefined;
  if (!resource) return grant;
  return [grant[0], grant[1].replace(/^peas/, resource), grant[2]];
}

function used(): { grants: Map<string, string[]>; unknown: string[] } {
  const grants = new Map<string, string[]>();
  const unknown: string[] = [];
  const add = (g: Grant, why: string): void => void grants.set(key(g), [...(grants.get(key(g)) ?? []), why]);
  for (const { file, code: text } of files) {
    for (const m of text.matchAll(/\.(\w+)\s*\(/g)) {
      const method = m[1] as string;
      const owners = madeClasses.filter((c) => apiClasses.get(c)?.has(method));
      if (owners.length === 0) continue;
      if (owners.length > 1)
        unknown.push(
          `${file}: ${method} exists on ${owners.join(' and ')}; the table cannot tell which one is called`,
        );
      const row = `${owners[0]}.${method}`;
      const grant = owners[0] === 'CustomObjectsApi' ? customGrant(CALLS[row], text, m.index) : CALLS[row];
      if (grant) add(grant, `${file}: ${method}`);
      else unknown.push(`${file}: ${row} is called but has no row in CALLS: add the permission it needs`);
    }
    // JsonCoreApi's paths are the requests of the CoreV1Api methods it is named after, which
    // the CALLS table already counts where they are called (a test below holds it to that).
    if (file === JSON_API) continue;
    for (const m of text.matchAll(/`(\/apis?\/[^`]*)`/g)) {
      const grant = WATCH_PATHS[m[1] as string];
      if (grant) add(grant, `${file}: watch ${m[1]}`);
      else unknown.push(`${file}: API path ${m[1]} has no row in WATCH_PATHS: add the resource it watches`);
    }
  }
  for (const i of IMPLIED) if (i.source.test(code)) add(i.grant, i.why);
  return { grants, unknown };
}

/** client-node's CoreV1Api calls sent as plain JSON (src/operator/json-api.ts). */
const JSON_API = 'src/operator/json-api.ts';

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}
interface RbacDoc {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: Rule[];
}

const manifest = parseAllDocuments(readFileSync(join(ROOT, 'deploy/peapods-operator.yaml'), 'utf8'))
  .map((d) => d.toJS() as RbacDoc)
  .filter(Boolean);
const roles = manifest.filter((d) => d.kind === 'ClusterRole' || d.kind === 'Role');

function granted(kinds = ['ClusterRole', 'Role']): Map<string, string> {
  const out = new Map<string, string>();
  for (const role of roles.filter((r) => kinds.includes(r.kind))) {
    for (const rule of role.rules ?? []) {
      for (const g of rule.apiGroups ?? [])
        for (const r of rule.resources ?? [])
          for (const v of rule.verbs ?? []) out.set(key([g, r, v]), `${role.kind} ${role.metadata.name}`);
    }
  }
  return out;
}

describe("the operator's RBAC (deploy/peapods-operator.yaml) against src/operator", () => {
  it('reads what the operator does from its source: every client call and path is in the tables', () => {
    expect(madeClasses.sort()).toEqual([
      'CoordinationV1Api',
      'CoreV1Api',
      'CustomObjectsApi',
      'DiscoveryV1Api',
      'NetworkingV1Api',
      'PolicyV1Api',
    ]);
    // A generic client would hide the resource behind its arguments: the tables could not see it.
    expect(code).not.toMatch(/KubernetesObjectApi|\bnew k8s\.Watch\b/);
    expect(used().unknown).toEqual([]);
  });

  it("names JsonCoreApi's methods after the CoreV1Api calls they make, so the CALLS table covers them", () => {
    const methods = Object.getOwnPropertyNames(JsonCoreApi.prototype).filter(
      (m) => m !== 'constructor' && m !== 'call',
    );
    expect(methods.length).toBeGreaterThan(0);
    for (const m of methods) {
      expect(apiClasses.get('CoreV1Api')?.has(m)).toBe(true);
      expect(CALLS[`CoreV1Api.${m}`]).toBeDefined();
    }
    // Each method's path and verb are CoreV1Api's for that name: resource and namespace as named.
    const source = readFileSync(join(ROOT, JSON_API), 'utf8');
    const requests = [
      ...source.matchAll(
        /^\s+(\w+)\(p: [^)]*\): Promise<[^>]+> \{\n\s+return this\.call\('(\w+)', `?'?([^`',]+)/gm,
      ),
    ];
    expect(requests.map((r) => r[1])).toEqual(methods);
    for (const [, method, verb, path] of requests) {
      const [group, resource, grantVerb] = CALLS[`CoreV1Api.${method}`]!;
      expect(group).toBe('');
      expect(path).toMatch(new RegExp(`/api/v1/(namespaces/\\$\\{p\\.namespace\\}/)?${resource}$`));
      expect({ create: 'POST', list: 'GET' }[grantVerb]).toBe(verb);
    }
  });

  it('calls the custom-objects API for Peas and PeaSets only', () => {
    const args = [...code.matchAll(/\b(group|plural): ([^,}\s]+)/g)].map((m) => `${m[1]}: ${m[2]}`);
    expect(args.length).toBeGreaterThan(0);
    expect([...new Set(args)].sort()).toEqual(['group: GROUP', 'plural: PEASET_PLURAL', 'plural: PLURAL']);
  });

  it('has no wildcard and no non-resource URLs, and names the one Secret it may read', () => {
    for (const role of roles) {
      for (const rule of role.rules ?? []) {
        expect([...(rule.apiGroups ?? []), ...(rule.resources ?? []), ...(rule.verbs ?? [])]).not.toContain(
          '*',
        );
        expect(rule.nonResourceURLs).toBeUndefined();
        if (rule.resourceNames)
          expect({ kind: role.kind, rule }).toEqual({
            kind: 'Role',
            rule: {
              apiGroups: [''],
              resources: ['secrets'],
              resourceNames: ['peapods-operator-token-key'],
              verbs: ['get'],
            },
          });
      }
    }
    // Reading Secrets is granted through that rule only.
    const secretGets = roles.flatMap((r) =>
      (r.rules ?? []).filter((x) => x.resources?.includes('secrets') && x.verbs?.includes('get')),
    );
    expect(secretGets.every((x) => x.resourceNames?.length === 1)).toBe(true);
  });

  it('grants nothing the code does not use', () => {
    const { grants } = used();
    const unused = [...granted()].filter(([k]) => !grants.has(k)).map(([k, where]) => `${k} (${where})`);
    expect(unused).toEqual([]);
  });

  it('grants everything the code uses', () => {
    const have = granted();
    const missing = [...used().grants]
      .filter(([k]) => !have.has(k))
      .map(([k, why]) => `${k} needed by ${why.join('; ')}`);
    expect(missing).toEqual([]);
  });

  it("grants leader election in the operator's namespace only", () => {
    const cluster = [...granted(['ClusterRole']).keys()];
    for (const r of NAMESPACED_ONLY)
      expect(cluster.filter((k) => k.split(':')[0]?.endsWith(`/${r}`))).toEqual([]);
    const role = roles.find((r) => r.kind === 'Role');
    expect(role?.metadata.namespace).toBe('peapods-system');
  });

  it('holds exactly these permissions', () => {
    // The whole list, so a review sees any change to it; the tests above say why each is here.
    expect([...granted().keys()].sort()).toEqual([
      'coordination.k8s.io/leases:create',
      'coordination.k8s.io/leases:get',
      'coordination.k8s.io/leases:update',
      'core/events:create',
      'core/pods:create',
      'core/pods:delete',
      'core/pods:list',
      'core/pods:patch',
      'core/pods:watch',
      'core/secrets:create',
      'core/secrets:get',
      'core/services:create',
      'core/services:patch',
      'discovery.k8s.io/endpointslices:list',
      'discovery.k8s.io/endpointslices:watch',
      'networking.k8s.io/networkpolicies:create',
      'networking.k8s.io/networkpolicies:patch',
      'peapods.io/peas/finalizers:update',
      'peapods.io/peas/status:patch',
      'peapods.io/peas:create',
      'peapods.io/peas:delete',
      'peapods.io/peas:list',
      'peapods.io/peas:patch',
      'peapods.io/peas:watch',
      'peapods.io/peasets/finalizers:update',
      'peapods.io/peasets/status:patch',
      'peapods.io/peasets:list',
      'peapods.io/peasets:patch',
      'peapods.io/peasets:watch',
      'policy/poddisruptionbudgets:create',
      'policy/poddisruptionbudgets:patch',
    ]);
  });
});

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
  // Pea informer (list); finalizer add and remove (merge patch); status through /status.
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

/** Informer paths (makeInformer opens `?watch=true` on them): the watch verb. */
const WATCH_PATHS: Record<string, Grant> = {
  '/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}': [PEAS, 'peas', 'watch'],
  '/apis/${GROUP}/${VERSION}/${PLURAL}': [PEAS, 'peas', 'watch'],
  '/api/v1/namespaces/${ns}/pods': ['', 'pods', 'watch'],
  '/api/v1/pods': ['', 'pods', 'watch'],
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
    // The only server-side apply in src/operator is the Pea NetworkPolicy's.
    source: /PatchStrategy\.ServerSideApply/,
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
      const grant = CALLS[row];
      if (grant) add(grant, `${file}: ${method}`);
      else unknown.push(`${file}: ${row} is called but has no row in CALLS: add the permission it needs`);
    }
    for (const m of text.matchAll(/`(\/apis?\/[^`]*)`/g)) {
      const grant = WATCH_PATHS[m[1] as string];
      if (grant) add(grant, `${file}: watch ${m[1]}`);
      else unknown.push(`${file}: API path ${m[1]} has no row in WATCH_PATHS: add the resource it watches`);
    }
  }
  for (const i of IMPLIED) if (i.source.test(code)) add(i.grant, i.why);
  return { grants, unknown };
}

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
      'NetworkingV1Api',
    ]);
    // A generic client would hide the resource behind its arguments: the tables could not see it.
    expect(code).not.toMatch(/KubernetesObjectApi|\bnew k8s\.Watch\b/);
    expect(used().unknown).toEqual([]);
  });

  it('calls the custom-objects API for Peas only', () => {
    const args = [...code.matchAll(/\b(group|plural): ([^,}\s]+)/g)].map((m) => `${m[1]}: ${m[2]}`);
    expect(args.length).toBeGreaterThan(0);
    expect([...new Set(args)].sort()).toEqual(['group: GROUP', 'plural: PLURAL']);
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
      'core/pods:watch',
      'core/secrets:create',
      'core/secrets:get',
      'networking.k8s.io/networkpolicies:create',
      'networking.k8s.io/networkpolicies:patch',
      'peapods.io/peas/finalizers:update',
      'peapods.io/peas/status:patch',
      'peapods.io/peas:list',
      'peapods.io/peas:patch',
      'peapods.io/peas:watch',
    ]);
  });
});

// The NetworkPolicy that keeps other pods off a Pea's sidecar ports, in every namespace where
// the operator runs Peas. A NetworkPolicy covers its own namespace only, and Peas may be
// created in any namespace, so the chart cannot know where to render it; the operator can.
// The chart stays the one place that says what the policy is (it renders it into a
// ConfigMap, mounted as --network-policy-file, and test/unit/security/chart.test.ts
// evaluates it as a CNI would); the operator only puts a copy into each Pea namespace
// before the first pod it creates there, once per namespace and process.
//
// Server-side apply: creates the policy when missing, puts back a copy someone changed (the
// operator's fields win), converges after a chart upgrade changed the ports, and needs only
// `patch` on networkpolicies.
import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import type { Logger } from '../shared/logger.js';

/** A NetworkPolicy as the API's JSON spells it (`from`, `except`: not client-node's model names). */
export interface PolicyTemplate {
  apiVersion: 'networking.k8s.io/v1';
  kind: 'NetworkPolicy';
  metadata: { name: string; labels?: Record<string, string> };
  spec: Record<string, unknown> & { podSelector: object };
}

/** Reads and checks --network-policy-file; the error says what is wrong and where. */
export function loadPolicyTemplate(file: string): PolicyTemplate {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const why = (err as Error).message;
    throw new Error(
      `--network-policy-file ${file}: ${why}; ` +
        'it must hold one NetworkPolicy as JSON (the chart renders one)',
    );
  }
  return checkTemplate(parsed, file);
}

/** The checks of loadPolicyTemplate, on an already parsed value. */
export function checkTemplate(value: unknown, where: string): PolicyTemplate {
  const t = value as Partial<PolicyTemplate> | null;
  const problem = templateProblem(t);
  if (problem) throw new Error(`--network-policy-file ${where}: ${problem}`);
  return t as PolicyTemplate;
}

const DNS_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function templateProblem(t: Partial<PolicyTemplate> | null): string | null {
  if (typeof t !== 'object' || t === null) return 'not a JSON object';
  if (t.apiVersion !== 'networking.k8s.io/v1' || t.kind !== 'NetworkPolicy') {
    return `apiVersion/kind are ${t.apiVersion}/${t.kind}, not networking.k8s.io/v1 NetworkPolicy`;
  }
  const name = t.metadata?.name;
  if (typeof name !== 'string' || !DNS_NAME.test(name)) return 'metadata.name is missing or not a DNS name';
  if ('namespace' in (t.metadata ?? {}))
    return 'metadata.namespace is set; the operator sets it per namespace';
  if (typeof t.spec?.podSelector !== 'object' || t.spec.podSelector === null)
    return 'spec.podSelector is missing';
  return null;
}

/** The template for one namespace (pure): name, labels and spec as given, namespace set. */
export function policyFor(
  t: PolicyTemplate,
  namespace: string,
): PolicyTemplate & { metadata: { namespace: string } } {
  return { apiVersion: t.apiVersion, kind: t.kind, metadata: { ...t.metadata, namespace }, spec: t.spec };
}

const APPLY = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply);
/** The field manager of the operator's applies (`kubectl get netpol -o yaml --show-managed-fields`). */
export const FIELD_MANAGER = 'peapods-operator';

const NOT_APPLIED =
  'cannot apply the NetworkPolicy for Pea pods in this namespace: ' +
  'other pods can reach its sidecar ports (which still want a token); ' +
  "check the operator's RBAC (create and patch on networkpolicies)";

/** Puts the policy into each namespace where Peas run: once per namespace and process. */
export class NetworkPolicies {
  private readonly done = new Set<string>();
  private readonly pending = new Map<string, Promise<void>>();

  constructor(
    private readonly api: k8s.NetworkingV1Api,
    private readonly template: PolicyTemplate,
    private readonly log: Logger,
  ) {}

  /**
   * Applies the policy to `namespace` unless this process did already. Never throws: a
   * failure (say, RBAC without patch on networkpolicies) is logged and tried again before
   * the next pod in that namespace, and the pod is created all the same: the sidecar's
   * ports need a token without any policy, the policy only keeps other pods off them.
   */
  async ensure(namespace: string): Promise<void> {
    if (this.done.has(namespace)) return;
    let p = this.pending.get(namespace);
    if (!p) {
      p = this.apply(namespace).finally(() => this.pending.delete(namespace));
      this.pending.set(namespace, p);
    }
    await p;
  }

  private async apply(namespace: string): Promise<void> {
    const body = policyFor(this.template, namespace);
    const name = body.metadata.name;
    try {
      const request = { name, namespace, body, fieldManager: FIELD_MANAGER, force: true };
      await this.api.patchNamespacedNetworkPolicy(request, APPLY);
      this.done.add(namespace);
      this.log.info({ namespace, networkPolicy: name }, 'NetworkPolicy for Pea pods applied');
    } catch (err) {
      const code = (err as { code?: number }).code;
      const why = String((err as Error).message ?? err).slice(0, 300);
      this.log.warn({ namespace, networkPolicy: name, code, err: why }, NOT_APPLIED);
    }
  }
}

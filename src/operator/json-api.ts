// The few core/v1 calls the operator makes for every Pea, sent as the plain JSON it builds and
// read back as plain JSON. client-node's typed classes pass each body and response through
// its ObjectSerializer (a walk over every model's attribute map, each timestamp made into a
// Date, one class instance per nested object): in a CPU profile of the operator that was the
// largest part, before undici itself; and a listed pod came back as a tree of class
// instances, heavier to cache. Same method names, parameters and errors (ApiException with
// the API server's Status) as client-node's CoreV1Api, so callers, errors.ts and the RBAC
// test (test/unit/security/rbac.test.ts) read them as they read client-node; same
// connection pool and credentials (the KubeConfig's, src/shared/kubeconfig.ts).
import * as k8s from '@kubernetes/client-node';
import { fetch } from 'undici';

type Query = Record<string, string | number | undefined>;
/** One page of a list, as client-node names its parameters. */
type ListParams = { labelSelector?: string; limit?: number; _continue?: string };

/** The operator's per-Pea core/v1 calls, without client-node's ObjectSerializer. */
export class JsonCoreApi {
  constructor(private readonly kc: k8s.KubeConfig) {}

  /** POST a pod; the pod as the API server stored it. */
  createNamespacedPod(p: { namespace: string; body: k8s.V1Pod }): Promise<k8s.V1Pod> {
    return this.call('POST', `/api/v1/namespaces/${p.namespace}/pods`, {}, p.body);
  }

  /** POST a Secret; the Secret as stored. */
  createNamespacedSecret(p: { namespace: string; body: k8s.V1Secret }): Promise<k8s.V1Secret> {
    return this.call('POST', `/api/v1/namespaces/${p.namespace}/secrets`, {}, p.body);
  }

  /** POST an Event; the Event as stored. */
  createNamespacedEvent(p: { namespace: string; body: k8s.CoreV1Event }): Promise<k8s.CoreV1Event> {
    return this.call('POST', `/api/v1/namespaces/${p.namespace}/events`, {}, p.body);
  }

  /** One page of the pods of a namespace (timestamps stay strings, as a watch sends them). */
  listNamespacedPod(p: ListParams & { namespace: string }): Promise<k8s.V1PodList> {
    return this.call('GET', `/api/v1/namespaces/${p.namespace}/pods`, listQuery(p));
  }

  /** One page of the pods of every namespace. */
  listPodForAllNamespaces(p: ListParams): Promise<k8s.V1PodList> {
    return this.call('GET', '/api/v1/pods', listQuery(p));
  }

  private async call<T>(method: 'GET' | 'POST', path: string, query: Query, body?: unknown): Promise<T> {
    const url = new URL(`${this.kc.getCurrentCluster()?.server ?? ''}${path}`);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    const ctx = new k8s.RequestContext(url.toString(), method as k8s.HttpMethod);
    ctx.setHeaderParam('Accept', 'application/json');
    if (body !== undefined) {
      ctx.setHeaderParam('Content-Type', 'application/json');
      ctx.setBody(JSON.stringify(body));
    }
    await this.kc.applySecurityAuthentication(ctx);
    const res = await fetch(ctx.getUrl(), {
      method,
      headers: ctx.getHeaders(),
      body: ctx.getBody() as string | undefined,
      dispatcher: ctx.getDispatcher() as Parameters<typeof fetch>[1] extends { dispatcher?: infer D }
        ? D
        : never,
    });
    const text = await res.text();
    if (res.status >= 200 && res.status < 300) return JSON.parse(text) as T;
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => (headers[k] = v));
    throw new k8s.ApiException(res.status, `HTTP ${res.status} from ${method} ${path}`, text, headers);
  }
}

function listQuery(p: ListParams): Query {
  return { labelSelector: p.labelSelector, limit: p.limit, continue: p._continue };
}

// How `kubectl pea` reaches the cluster: the user's kubeconfig, as kubectl reads it
// (--kubeconfig, else $KUBECONFIG, else ~/.kube/config), its --context, and -n (else the
// context's namespace, else "default"). Every read and write of the plugin is here.
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type Pea } from '../api/v1alpha1/types.js';
import { CliError, Exit } from './exit.js';

const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

/** The flags every command takes. */
export interface KubeFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

/** The HTTP status of a failed API call, if it was one. */
export function httpCode(err: unknown): number | undefined {
  return err instanceof k8s.ApiException ? err.code : undefined;
}

/** What the API server said, without the response headers client-node appends. */
function said(err: unknown): string {
  if (err instanceof k8s.ApiException) {
    const body = (typeof err.body === 'string' ? safeJson(err.body) : err.body) as { message?: string };
    return body?.message ?? `HTTP ${err.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return { message: s.slice(0, 300) };
  }
}

/** The cluster as the plugin sees it: one namespace, the user's identity. */
export class Kube {
  readonly namespace: string;
  readonly core: k8s.CoreV1Api;
  private readonly custom: k8s.CustomObjectsApi;

  constructor(f: KubeFlags) {
    const kc = new k8s.KubeConfig();
    try {
      if (f.kubeconfig) kc.loadFromFile(f.kubeconfig);
      else kc.loadFromDefault();
    } catch (err) {
      throw new CliError(`cannot read the kubeconfig: ${said(err)}`, Exit.Usage);
    }
    if (f.context) {
      if (!kc.getContextObject(f.context))
        throw new CliError(`context "${f.context}" is not in the kubeconfig`, Exit.Usage);
      kc.setCurrentContext(f.context);
    }
    if (!kc.getCurrentCluster())
      throw new CliError('the kubeconfig has no current cluster: pass --context or --kubeconfig', Exit.Usage);
    this.namespace = f.namespace || kc.getContextObject(kc.getCurrentContext())?.namespace || 'default';
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
  }

  /** A failed call as a CliError naming what was attempted on which Pea in which namespace. */
  fail(what: string, name: string, err: unknown): CliError {
    if (err instanceof CliError) return err;
    const code = httpCode(err);
    if (code === 404)
      return new CliError(`pea "${name}" not found in namespace "${this.namespace}"`, Exit.NotFound);
    return new CliError(`cannot ${what} pea "${name}" in namespace "${this.namespace}": ${said(err)}`);
  }

  /** The Pea, or a CliError (NotFound names it and the namespace). */
  async pea(name: string): Promise<Pea> {
    try {
      return (await this.custom.getNamespacedCustomObject({ ...this.where(), name })) as Pea;
    } catch (err) {
      throw this.fail('read', name, err);
    }
  }

  /** Every Pea in the namespace, or in all of them. */
  async peas(allNamespaces: boolean): Promise<Pea[]> {
    try {
      const list = allNamespaces
        ? await this.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })
        : await this.custom.listNamespacedCustomObject(this.where());
      return (list as { items: Pea[] }).items;
    } catch (err) {
      const where = allNamespaces ? 'in any namespace' : `in namespace "${this.namespace}"`;
      throw new CliError(`cannot list peas ${where}: ${said(err)}`);
    }
  }

  /** Sets spec.cancel; the Pea as patched. */
  async cancel(name: string): Promise<Pea> {
    try {
      return (await this.custom.patchNamespacedCustomObject(
        { ...this.where(), name, body: { spec: { cancel: true } } },
        MERGE,
      )) as Pea;
    } catch (err) {
      throw this.fail('cancel', name, err);
    }
  }

  /** A pod of the namespace, or undefined when it is gone. */
  async pod(name: string): Promise<k8s.V1Pod | undefined> {
    try {
      return await this.core.readNamespacedPod({ namespace: this.namespace, name });
    } catch (err) {
      if (httpCode(err) === 404) return undefined;
      throw new CliError(`cannot read pod "${name}" in namespace "${this.namespace}": ${said(err)}`);
    }
  }

  /** The Warning Events about these objects (by UID), oldest first. */
  async warnings(uids: string[]): Promise<k8s.CoreV1Event[]> {
    const lists = await Promise.all(
      uids.map((uid) =>
        this.core
          .listNamespacedEvent({
            namespace: this.namespace,
            fieldSelector: `involvedObject.uid=${uid},type=Warning`,
          })
          .then((l) => l.items)
          // Events are a help, not the story: a user who may not list them still gets the rest.
          .catch(() => []),
      ),
    );
    const when = (e: k8s.CoreV1Event) =>
      new Date(e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp ?? 0).getTime();
    return lists.flat().sort((a, b) => when(a) - when(b));
  }

  /** A container's log with the kubelet's timestamps, as one string. */
  async log(pod: string, container: string, tailLines?: number): Promise<string> {
    return this.core.readNamespacedPodLog({
      namespace: this.namespace,
      name: pod,
      container,
      timestamps: true,
      ...(tailLines !== undefined ? { tailLines } : {}),
    });
  }

  /** What a failed call said, for messages that name their own object. */
  static said = said;

  private where() {
    return { group: GROUP, version: VERSION, plural: PLURAL, namespace: this.namespace };
  }
}

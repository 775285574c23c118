// A KubeConfig whose API calls share one connection pool. @kubernetes/client-node 2.0
// builds a new undici Agent for every request (in applySecurityAuthentication), so each call
// opens a fresh TLS connection with a fresh SecureContext: profiling the operator showed TLS
// set-up as its largest cost, and the abandoned agents as most of its memory growth. Keeping
// the first agent and handing it to every later request restores keep-alive.
// Assumes the TLS material does not change while the process runs (tokens may: they travel
// in headers, which are still set per request).
import * as k8s from '@kubernetes/client-node';

type RequestContext = Parameters<k8s.KubeConfig['applySecurityAuthentication']>[0];
type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

export class PooledKubeConfig extends k8s.KubeConfig {
  private shared: Dispatcher | undefined;

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const fresh = context.getDispatcher();
    if (!fresh) return;
    if (this.shared) context.setDispatcher(this.shared);
    else this.shared = fresh;
  }
}

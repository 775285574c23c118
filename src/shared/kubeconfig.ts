// A KubeConfig whose API calls share one connection pool. @kubernetes/client-node 2.0
// builds a new undici Agent for every request (in applySecurityAuthentication), so each call
// opens a fresh TLS connection with a fresh SecureContext: profiling the operator showed TLS
// set-up as its largest cost, and the abandoned agents as most of its memory growth. Keeping
// one agent for every request restores keep-alive.
//
// That agent speaks HTTP/2 (undici 8's default), so every call and watch shares one
// connection, and undici notices a connection that died silently (a load balancer or NAT
// dropping it, a network cut) only when a PING goes unanswered: by default one a minute,
// found dead at the next tick. make chaos measured that: the whole operator stalled for
// 111-114 s after a connection cut. Like client-go's HTTP/2 health check (ReadIdleTimeout
// 30 s, PingTimeout 15 s), PINGs here go out every PING_INTERVAL_MS, and a call with no
// response headers within HEADERS_TIMEOUT_MS fails (so the reconcile is retried) and makes
// undici PING the connection at once. Watches are not affected: the API server sends their
// headers when the watch opens, and client-node restarts a watch quiet for 30 s.
// Assumes the TLS material does not change while the process runs (tokens may: they travel
// in headers, which are still set per request).
import type { AgentOptions, RequestOptions } from 'node:https';
import * as k8s from '@kubernetes/client-node';
import { Agent } from 'undici';

type RequestContext = Parameters<k8s.KubeConfig['applySecurityAuthentication']>[0];
type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

const PING_INTERVAL_MS = 5_000;
const HEADERS_TIMEOUT_MS = 30_000;

/** A KubeConfig whose every API call shares one HTTP/2 connection pool, PINGed to find dead connections. */
export class PooledKubeConfig extends k8s.KubeConfig {
  private shared: Promise<Dispatcher> | undefined;

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const fresh = context.getDispatcher();
    if (!fresh) return;
    this.shared ??= this.sharedDispatcher(fresh);
    context.setDispatcher(await this.shared);
  }

  /** An agent with the kubeconfig's TLS settings and the liveness checks above; through a proxy, client-node's own. */
  private async sharedDispatcher(fresh: Dispatcher): Promise<Dispatcher> {
    const tls: RequestOptions = {};
    await this.applyToHTTPSOptions(tls);
    const { ca, cert, key, pfx, passphrase, rejectUnauthorized, servername } = tls as AgentOptions;
    const opts = this.createDispatcherOptions(this.getCurrentCluster(), {
      ca,
      cert,
      key,
      pfx,
      passphrase,
      rejectUnauthorized,
      servername,
    });
    if (opts.type !== 'agent') return fresh;
    return new Agent({
      connect: opts.connect,
      headersTimeout: HEADERS_TIMEOUT_MS,
      h2Options: { pingInterval: PING_INTERVAL_MS },
    }) as unknown as Dispatcher;
  }
}

// The sidecar's HTTP port, for what the kubelet can only do over HTTP: the runtime
// container's preStop `httpGet` lands here, so teardown works for any runtime image.
//
// Where it listens: --host, 0.0.0.0 in a pod, which inside the pod's network namespace
// means the pod IP and loopback, and both are needed. The kubelet runs the hook from the
// node's network namespace and dials the pod IP (an httpGet hook without `host`), so
// loopback alone would never see it; the exec-form hook (`pea-runtime prestop`) and
// `kubectl exec … curl` use 127.0.0.1. The kubelet sends no token, so /prestop cannot ask
// for one: it is the one unauthenticated way to cancel, and the chart's NetworkPolicy is
// what keeps other pods off this port. /status shows what the Status RPC shows, so with
// --token-file it wants the same token from anything but loopback.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../../shared/logger.js';
import { PRESTOP_TRIGGER } from '../../shared/reasons.js';
import type { ControlAuth } from './control-auth.js';
import type { Supervisor } from './supervisor.js';

export interface HookServer {
  port: number;
  close(): Promise<void>;
}

export async function startHookServer(supervisor: Supervisor, host: string, port: number, teardownTimeoutMs: number, auth: ControlAuth, log: Logger): Promise<HookServer> {
  const server = createServer((req, res) => void route(req, res, supervisor, teardownTimeoutMs, auth, log));
  server.headersTimeout = 5000;
  server.requestTimeout = teardownTimeoutMs + 5000;
  await listen(server, host, port);
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    // Lets a preStop answer that is being written finish, then cuts what is left.
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 200).unref();
      }),
  };
}

async function route(req: IncomingMessage, res: ServerResponse, supervisor: Supervisor, teardownTimeoutMs: number, auth: ControlAuth, log: Logger): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'POST') return reply(res, 405, { error: 'use GET or POST' });
  switch (path) {
    case '/prestop':
      return reply(res, ...(await preStop(supervisor, teardownTimeoutMs, log)));
    case '/healthz':
      return reply(res, 200, { ok: true });
    case '/readyz':
      return reply(res, supervisor.status.ready ? 200 : 503, { ready: supervisor.status.ready });
    case '/status': {
      const refusal = isLoopback(req.socket.remoteAddress) ? null : auth.check(req.headersDistinct.authorization ?? [], 'GET /status', `${req.socket.remoteAddress}`);
      if (refusal) {
        res.setHeader('www-authenticate', 'Bearer');
        return reply(res, 401, { error: refusal.details });
      }
      return reply(res, 200, supervisor.status);
    }
    default:
      return reply(res, 404, { error: `no such path ${path}: try /prestop, /healthz, /readyz or /status` });
  }
}

/**
 * cancel → wait for the runtime to exit → teardown, answered within the teardown budget.
 * A second preStop (hooks are delivered at least once) joins the first one's wait.
 */
async function preStop(supervisor: Supervisor, teardownTimeoutMs: number, log: Logger): Promise<[number, object]> {
  const started = Date.now();
  const { alreadyCancelled } = supervisor.cancel(PRESTOP_TRIGGER);
  log.info({ alreadyCancelled }, 'preStop hook');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<null>((r) => (timer = setTimeout(() => r(null), teardownTimeoutMs)));
  const final = await Promise.race([supervisor.done, timedOut]);
  clearTimeout(timer);
  if (!final) {
    log.warn({ teardownTimeoutSeconds: teardownTimeoutMs / 1000 }, 'preStop budget ran out before teardown finished: raise the teardown timeout');
    return [504, { done: false, waitedMs: Date.now() - started, status: supervisor.status }];
  }
  return [200, { done: true, waitedMs: Date.now() - started, status: final }];
}

function isLoopback(address: string | undefined): boolean {
  return address !== undefined && (address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.'));
}

function reply(res: ServerResponse, code: number, body: object): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err) =>
      reject(new Error(`cannot listen for HTTP on port ${port}: ${err.message} (choose another with --http-port)`)),
    );
    server.listen(port, host, () => resolve());
  });
}

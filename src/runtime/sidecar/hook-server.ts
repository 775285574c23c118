// The sidecar's HTTP port, for what the kubelet can only do over HTTP: the runtime
// container's preStop `httpGet` lands here, so teardown works for any runtime image.
//
// Where it listens: --host, 0.0.0.0 in a pod, which inside the pod's network namespace
// means the pod IP and loopback, and both are needed. The kubelet runs the hook from the
// node's network namespace and dials the pod IP (an httpGet hook without `host`), so
// loopback alone would never see it; the exec-form hook (`pea-runtime prestop`) and
// `kubectl exec … curl` use 127.0.0.1.
//
// Any pod in the cluster can dial the pod IP, and many CNIs enforce no NetworkPolicy, so
// with a hook token (PEA_HOOK_TOKEN) /prestop wants it from every caller, loopback
// included: the kubelet sends it from the hook's httpHeaders, the exec-form hook from its
// environment. Whoever shares the pod's network namespace (the runtime container) could
// read it too, through /proc, and could as well just exit: no loss. /status shows what the
// Status RPC shows, so with --token-file it wants the control token from anything but
// loopback. A refusal is a 401 and a log line that names the caller and why, never a token.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from '../../shared/logger.js';
import { PRESTOP_TRIGGER } from '../../shared/words.js';
import type { ControlAuth } from './control-auth.js';
import type { Supervisor } from './supervisor.js';

// Not `import … from 'node:http'`: its ES module face reads every export, and the WebSocket
// ones load Node's internal undici, 12–20 ms of the sidecar's start (profiled). grpc-js has
// loaded the CommonJS module already, so this costs nothing.
const { createServer } = process.getBuiltinModule('node:http');

/** The running HTTP server: its bound port, and how to stop it. */
export interface HookServer {
  port: number;
  close(): Promise<void>;
}

/** Who may call what: `control` guards /status, `hook` guards /prestop. */
export interface HookAuth {
  control: ControlAuth;
  hook: ControlAuth;
}

/** Listens on host:port for /prestop, /healthz, /readyz and /status. */
export async function startHookServer(
  supervisor: Supervisor,
  host: string,
  port: number,
  teardownTimeoutMs: number,
  auth: HookAuth,
  log: Logger,
  preStopHoldMs = 0,
): Promise<HookServer> {
  const budget = { teardownMs: teardownTimeoutMs, holdMs: preStopHoldMs };
  const server = createServer((req, res) => void route(req, res, supervisor, budget, auth, log));
  server.headersTimeout = 5000;
  server.requestTimeout = teardownTimeoutMs + preStopHoldMs + 5000;
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

async function route(
  req: IncomingMessage,
  res: ServerResponse,
  supervisor: Supervisor,
  budget: PreStopBudget,
  auth: HookAuth,
  log: Logger,
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'POST') return reply(res, 405, { error: 'use GET or POST' });
  const peer = `${req.socket.remoteAddress}`;
  switch (path) {
    case '/prestop': {
      const refusal = auth.hook.check(
        req.headersDistinct.authorization ?? [],
        `${req.method} /prestop`,
        peer,
      );
      if (refusal) return unauthorized(res, refusal.details);
      return reply(res, ...(await preStop(supervisor, budget, log)));
    }
    case '/healthz':
      return reply(res, 200, { ok: true });
    case '/readyz':
      return reply(res, supervisor.status.ready ? 200 : 503, { ready: supervisor.status.ready });
    case '/status': {
      const loopback = isLoopback(req.socket.remoteAddress);
      const authorization = req.headersDistinct.authorization ?? [];
      const refusal = loopback ? null : auth.control.check(authorization, 'GET /status', peer);
      if (refusal) return unauthorized(res, refusal.details);
      return reply(res, 200, supervisor.status);
    }
    default:
      return reply(res, 404, { error: `no such path ${path}: try /prestop, /healthz, /readyz or /status` });
  }
}

/** How long /prestop may hold before it cancels, and its teardown budget after that. */
interface PreStopBudget {
  holdMs: number;
  teardownMs: number;
}

/**
 * [hold: NOT_SERVING, and wait for the operator's Cancel] → cancel → wait for the runtime to
 * exit → teardown, answered within the hold plus the teardown budget. A second preStop
 * (hooks are delivered at least once) joins the first one's wait.
 */
async function preStop(
  supervisor: Supervisor,
  budget: PreStopBudget,
  log: Logger,
): Promise<[number, object]> {
  const started = Date.now();
  if (budget.holdMs > 0 && !supervisor.cancelled) {
    supervisor.drain();
    log.info(
      { holdSeconds: budget.holdMs / 1000 },
      "preStop hook: NOT_SERVING, holding for the operator's Cancel",
    );
    await cancelledWithin(supervisor, budget.holdMs);
  }
  const teardownTimeoutMs = budget.teardownMs;
  const { alreadyCancelled } = supervisor.cancel(PRESTOP_TRIGGER);
  log.info({ alreadyCancelled }, 'preStop hook');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<null>((r) => (timer = setTimeout(() => r(null), teardownTimeoutMs)));
  const final = await Promise.race([supervisor.done, timedOut]);
  clearTimeout(timer);
  if (!final) {
    log.warn(
      { teardownTimeoutSeconds: teardownTimeoutMs / 1000 },
      'preStop budget ran out before teardown finished: raise the teardown timeout',
    );
    return [504, { done: false, waitedMs: Date.now() - started, status: supervisor.status }];
  }
  return [200, { done: true, waitedMs: Date.now() - started, status: final }];
}

/** Resolves once a cancel has started (the Cancel RPC, SIGTERM), or after `ms`. */
function cancelledWithin(supervisor: Supervisor, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (!supervisor.cancelled && supervisor.status.phase !== 'PHASE_EXITED') return;
      clearTimeout(timer);
      supervisor.off('change', check);
      resolve();
    };
    const timer = setTimeout(() => {
      supervisor.off('change', check);
      resolve();
    }, ms);
    supervisor.on('change', check);
    check();
  });
}

function isLoopback(address: string | undefined): boolean {
  return (
    address !== undefined &&
    (address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.'))
  );
}

function unauthorized(res: ServerResponse, details: string): void {
  res.setHeader('www-authenticate', 'Bearer');
  reply(res, 401, { error: details });
}

function reply(res: ServerResponse, code: number, body: object): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err) =>
      reject(
        new Error(`cannot listen for HTTP on port ${port}: ${err.message} (choose another with --http-port)`),
      ),
    );
    server.listen(port, host, () => resolve());
  });
}

// How the sidecar tells that the runtime is ready: the seed's "ready event", read from
// outside the runtime so that any image works. Polled on localhost (same pod network).
import { connect } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { HealthClient } from '../../shared/health-client.js';

/** How to tell the runtime is ready: `--ready`, parsed. */
export type ReadySpec =
  | { kind: 'none' }
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'http'; host: string; port: number; path: string }
  | { kind: 'grpc'; host: string; port: number; service: string };

/** One ready check, run every --ready-period. */
export interface ReadyCheck {
  /** Resolves true when the runtime answers ready within `timeoutMs`; never rejects. */
  check(timeoutMs: number): Promise<boolean>;
  close(): void;
}

const USAGE = 'expected none, tcp://HOST:PORT, http://HOST:PORT/PATH or grpc://HOST:PORT[/SERVICE]';

/** Parses `--ready`; throws an Error whose message says what is wrong and what is accepted. */
export function parseReadySpec(text: string): ReadySpec {
  if (text === 'none') return { kind: 'none' };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`"${text}" is not a URL: ${USAGE}`);
  }
  const kind = url.protocol.replace(/:$/, '');
  if (kind !== 'tcp' && kind !== 'http' && kind !== 'grpc')
    throw new Error(`unknown scheme "${kind}": ${USAGE}`);
  const port = Number(url.port);
  if (!url.port || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`"${text}" needs a port 1-65535: ${USAGE}`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (kind === 'tcp') return { kind, host, port };
  if (kind === 'http') return { kind, host, port, path: `${url.pathname}${url.search}` || '/' };
  return { kind, host, port, service: decodeURIComponent(url.pathname.replace(/^\//, '')) };
}

/** The `--ready` text of a spec, for logs. */
export function formatReadySpec(spec: ReadySpec): string {
  switch (spec.kind) {
    case 'none':
      return 'none';
    case 'tcp':
      return `tcp://${spec.host}:${spec.port}`;
    case 'http':
      return `http://${spec.host}:${spec.port}${spec.path}`;
    case 'grpc':
      return `grpc://${spec.host}:${spec.port}/${spec.service}`;
  }
}

/** The check a spec describes. */
export function createReadyCheck(spec: ReadySpec): ReadyCheck {
  switch (spec.kind) {
    case 'none':
      return { check: async () => true, close: () => undefined };
    case 'tcp':
      return { check: (t) => tcpCheck(spec.host, spec.port, t), close: () => undefined };
    case 'http':
      return { check: (t) => httpCheck(spec, t), close: () => undefined };
    case 'grpc':
      return grpcCheck(spec);
  }
}

function tcpCheck(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Like the kubelet's httpGet probe: any 2xx or 3xx is ready. */
async function httpCheck(
  spec: { host: string; port: number; path: string },
  timeoutMs: number,
): Promise<boolean> {
  const host = spec.host.includes(':') ? `[${spec.host}]` : spec.host;
  try {
    const res = await fetch(`http://${host}:${spec.port}${spec.path}`, {
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'manual',
    });
    await res.body?.cancel();
    return res.status >= 200 && res.status < 400;
  } catch {
    return false;
  }
}

/** One channel for the life of the check: the runtime's server is local and long-lived. */
function grpcCheck(spec: { host: string; port: number; service: string }): ReadyCheck {
  const host = spec.host.includes(':') ? `[${spec.host}]` : spec.host;
  // The runtime's server is usually not up at the first checks; grpc-js would back off
  // for up to two minutes between reconnects, far longer than a ready period.
  const client = new HealthClient(`${host}:${spec.port}`, grpc.credentials.createInsecure(), {
    'grpc.initial_reconnect_backoff_ms': 50,
    'grpc.max_reconnect_backoff_ms': 250,
  });
  return {
    check: (timeoutMs) => client.isServing(spec.service, timeoutMs),
    close: () => client.close(),
  };
}

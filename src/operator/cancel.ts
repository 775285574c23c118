// The operator's client for the sidecar's Cancel RPC: on the pod IP, with the Pea's control
// token, retried a few times. It only calls and reports; what follows a refusal or silence
// (deleting the pod, an Event) is the reconciler's choice (reconcile.ts).
import * as grpc from '@grpc/grpc-js';
import { lifecycleClient, type CancelResponse } from '../shared/lifecycle-proto.js';
import type { Logger } from '../shared/logger.js';
import { bearerMetadata } from '../shared/bearer.js';

/** How a Cancel went: answered, refused for its token, or not answered after every attempt. */
export type CancelOutcome = 'sent' | 'unauthenticated' | 'unreachable';

const ATTEMPTS = 3;

/** Calls Cancel on a Pea's sidecar, retrying what a retry can mend. */
export class CancelClient {
  /** `timeoutMs` bounds each attempt. */
  constructor(private readonly timeoutMs: number) {}

  /** Cancel on `address` (host:port) with `token`; `reason` is what the sidecar logs. */
  async cancel(address: string, token: string, reason: string, log: Logger): Promise<CancelOutcome> {
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const client = lifecycleClient(address);
      try {
        const res = await new Promise<CancelResponse>((resolve, reject) =>
          client.cancel(
            { reason },
            bearerMetadata(token),
            { deadline: Date.now() + this.timeoutMs },
            (err, r) => (err ? reject(err) : resolve(r as CancelResponse)),
          ),
        );
        log.info(
          { address, phase: res.status?.phase, alreadyCancelled: res.alreadyCancelled },
          'Cancel RPC sent',
        );
        return 'sent';
      } catch (err) {
        // The token changed (its Secret edited, or the operator's key): retrying cannot help.
        if (grpcCode(err) === grpc.status.UNAUTHENTICATED) return 'unauthenticated';
        log.warn({ address, attempt, err }, 'Cancel RPC failed');
        await new Promise((r) => setTimeout(r, 200 * attempt));
      } finally {
        client.close();
      }
    }
    return 'unreachable';
  }
}

/** `host:port` of a pod IP (IPv6 in brackets). */
export function grpcAddress(ip: string, port: number): string {
  return `${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
}

/** The gRPC status of a failed call (grpc-js's ServiceError), or undefined for anything else. */
function grpcCode(err: unknown): grpc.status | undefined {
  const code = err instanceof Error ? (err as Partial<grpc.ServiceError>).code : undefined;
  return typeof code === 'number' ? code : undefined;
}

// The sidecar's gRPC port: grpc.health.v1 for the kubelet and peapods.v1.Lifecycle for
// the operator. Health "" mirrors the runtime's readiness; the Lifecycle service's own
// health entry says whether control calls are taken (for clients that want to know; the
// pod's postStart gate waits on the sidecar's --started-file instead, without a gRPC client).
// grpc.health.v1 and server reflection are open to everyone (the kubelet's probe has no
// token; reflection only describes); every peapods.v1.Lifecycle method goes through `auth`
// (see control-auth.ts).
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../shared/logger.js';
import {
  LIFECYCLE_SERVICE,
  lifecycleServerDefinition,
  toTimestamp,
  type CancelRequest,
  type CancelResponse,
  type RuntimeStatus,
} from '../../shared/lifecycle-proto.js';
import { AUTHORIZATION } from '../../shared/bearer.js';
import type { ControlAuth } from './control-auth.js';
import { HealthService } from './health.js';
import { addReflection } from './reflection.js';
import type { Supervisor, SupervisorStatus } from './supervisor.js';

/** Control messages are tiny; refusing big ones early keeps a flood cheap. */
export const MAX_MESSAGE_BYTES = 64 * 1024;

function toRuntimeStatus(s: SupervisorStatus): RuntimeStatus {
  return {
    phase: s.phase,
    ready: s.ready,
    exitCode: s.exitCode ?? null,
    signal: s.signal,
    reason: s.reason,
    message: s.message,
    pid: s.pid,
    startedTime: toTimestamp(s.startedTime),
    readyTime: toTimestamp(s.readyTime),
    cancelTime: toTimestamp(s.cancelTime),
    exitTime: toTimestamp(s.exitTime),
    teardownTime: toTimestamp(s.teardownTime),
  };
}

/** The sidecar's gRPC server, as started. */
export interface SidecarGrpcServer {
  port: number;
  /** Ends Watch streams and closes the port; in-flight unary calls get a moment to finish. */
  close(): Promise<void>;
}

/** Serves grpc.health.v1 and peapods.v1.Lifecycle for `supervisor` on host:port. */
export async function startGrpcServer(
  supervisor: Supervisor,
  host: string,
  port: number,
  auth: ControlAuth,
  log: Logger,
): Promise<SidecarGrpcServer> {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_concurrent_streams': 100,
  });
  const health = new HealthService({ '': 'NOT_SERVING', [LIFECYCLE_SERVICE]: 'NOT_SERVING' });
  health.addToServer(server);
  // Open like health: it describes the services, and acts on nothing (reflection.ts).
  addReflection(server);

  const watchers = new Set<grpc.ServerWritableStream<object, RuntimeStatus>>();
  const onChange = (s: SupervisorStatus): void => {
    health.setStatus('', s.ready && !supervisor.cancelled ? 'SERVING' : 'NOT_SERVING');
    const msg = toRuntimeStatus(s);
    for (const w of watchers) w.write(msg);
  };
  supervisor.on('change', onChange);

  const refused = (call: { metadata: grpc.Metadata; getPeer(): string }, method: string) =>
    auth.check(call.metadata.get(AUTHORIZATION), `${LIFECYCLE_SERVICE}/${method}`, call.getPeer());

  // Status and Watch need the token as much as Cancel: they show the runtime's pid, exit
  // code and failure message (which may quote the runtime's own errors) to whoever asks,
  // and a Watch stream holds memory in the sidecar for as long as the caller keeps it.
  // Coded by proto-wire.ts: building proto-loader's definition would hold the port back.
  server.addService(lifecycleServerDefinition(), {
    Cancel: (
      call: grpc.ServerUnaryCall<CancelRequest, CancelResponse>,
      cb: grpc.sendUnaryData<CancelResponse>,
    ) => {
      const refusal = refused(call, 'Cancel');
      if (refusal) return cb(refusal);
      const reason = typeof call.request.reason === 'string' ? call.request.reason.slice(0, 256) : '';
      log.info({ peer: call.getPeer(), reason }, 'Cancel RPC');
      const { status, alreadyCancelled } = supervisor.cancel(reason || 'Cancel RPC');
      cb(null, { status: toRuntimeStatus(status), alreadyCancelled });
    },
    Status: (call: grpc.ServerUnaryCall<object, RuntimeStatus>, cb: grpc.sendUnaryData<RuntimeStatus>) => {
      const refusal = refused(call, 'Status');
      if (refusal) return cb(refusal);
      cb(null, toRuntimeStatus(supervisor.status));
    },
    Watch: (call: grpc.ServerWritableStream<object, RuntimeStatus>) => {
      const refusal = refused(call, 'Watch');
      if (refusal) return void call.emit('error', refusal);
      watchers.add(call);
      const drop = (): void => void watchers.delete(call);
      call.on('cancelled', drop);
      call.on('close', drop);
      call.on('error', drop);
      call.write(toRuntimeStatus(supervisor.status));
    },
  });

  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(portError(err, port)) : resolve(p),
    ),
  );
  health.setStatus(LIFECYCLE_SERVICE, 'SERVING');
  onChange(supervisor.status);

  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        supervisor.off('change', onChange);
        health.setStatus('', 'NOT_SERVING');
        health.setStatus(LIFECYCLE_SERVICE, 'NOT_SERVING');
        for (const w of watchers) w.end();
        watchers.clear();
        // Health Watch streams (the kubelet does not use them, others may) would hold
        // tryShutdown open; after a short grace, force.
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 100);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}

function portError(err: Error, port: number): Error {
  return new Error(
    `cannot listen for gRPC on port ${port}: ${err.message} ` +
      '(is another process using it? choose another with --grpc-port)',
  );
}

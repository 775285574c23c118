// A grpc.health.v1 client, so that the sidecar's ready check, the tests and the benchmarks
// speak the kubelet's protocol. Its service definition is health-proto.ts's, which loads no
// protobuf library: the sidecar imports this module (ready-check.ts) on its start.
import * as grpc from '@grpc/grpc-js';
import { healthService, type ServingStatus } from './health-proto.js';

/** A grpc.health.v1 status (defined with the codecs, in health-proto.ts). */
export type { ServingStatus };

interface RawHealthClient extends grpc.Client {
  check(
    req: { service: string },
    options: grpc.CallOptions,
    cb: grpc.requestCallback<{ status: ServingStatus }>,
  ): grpc.ClientUnaryCall;
  watch(
    req: { service: string },
    options?: grpc.CallOptions,
  ): grpc.ClientReadableStream<{ status: ServingStatus }>;
}

const RawCtor = grpc.makeGenericClientConstructor(healthService, 'Health');

/** A grpc.health.v1 client: check() once, isServing() for polling. */
export class HealthClient {
  readonly raw: RawHealthClient;

  constructor(
    address: string,
    credentials = grpc.credentials.createInsecure(),
    options: grpc.ClientOptions = {},
  ) {
    this.raw = new RawCtor(address, credentials, options) as unknown as RawHealthClient;
  }

  /** The status for `service`; rejects with the gRPC error (e.g. NOT_FOUND, UNAVAILABLE). */
  check(service: string, timeoutMs: number): Promise<ServingStatus> {
    return new Promise((resolve, reject) => {
      this.raw.check({ service }, { deadline: Date.now() + timeoutMs }, (err, res) =>
        err ? reject(err) : resolve(res?.status ?? 'UNKNOWN'),
      );
    });
  }

  /** True only for SERVING, as the kubelet's probe; every error counts as not serving. */
  isServing(service: string, timeoutMs: number): Promise<boolean> {
    return this.check(service, timeoutMs).then(
      (s) => s === 'SERVING',
      () => false,
    );
  }

  close(): void {
    this.raw.close();
  }
}

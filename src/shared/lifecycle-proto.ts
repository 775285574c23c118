// Loads the Lifecycle API (proto/peapods/v1/lifecycle.proto) once and gives both programs (the operator, which
// calls it, and the sidecar, which serves it) the same types and client.
// protobufjs and proto-loader are required on first use, not imported: loading them is a
// tenth of the sidecar's start, and the sidecar's server codes its messages without them.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';
import type protobuf from 'protobufjs';
import { lookup, messageCodec, type JsonNamespace } from './proto-wire.js';

const require = createRequire(import.meta.url);

/** The Lifecycle service's full name, also its grpc.health.v1 entry. */
export const LIFECYCLE_SERVICE = 'peapods.v1.Lifecycle';

/** The runtime's phase, as the proto's enum (names as strings). */
export type Phase =
  | 'PHASE_UNSPECIFIED'
  | 'PHASE_STARTING'
  | 'PHASE_READY'
  | 'PHASE_CANCELLING'
  | 'PHASE_TEARING_DOWN'
  | 'PHASE_EXITED';

/** google.protobuf.Timestamp as proto-loader gives it (longs as strings). */
export interface Timestamp {
  seconds: string | number;
  nanos: number;
}

/** What Status and Watch answer: the runtime as the sidecar sees it. */
export interface RuntimeStatus {
  phase: Phase;
  ready: boolean;
  exitCode?: number | null;
  signal: string;
  reason: string;
  message: string;
  pid: number;
  startedTime?: Timestamp | null;
  readyTime?: Timestamp | null;
  cancelTime?: Timestamp | null;
  exitTime?: Timestamp | null;
  teardownTime?: Timestamp | null;
}

/** Cancel's request: why, for the sidecar's log. */
export interface CancelRequest {
  reason?: string;
}

/** Cancel's answer: the runtime as found, and whether it had been cancelled already. */
export interface CancelResponse {
  status: RuntimeStatus;
  alreadyCancelled: boolean;
}

/** A peapods.v1.Lifecycle client, typed. */
export interface LifecycleClient extends grpc.Client {
  cancel(
    req: CancelRequest,
    options: grpc.CallOptions,
    cb: grpc.requestCallback<CancelResponse>,
  ): grpc.ClientUnaryCall;
  cancel(
    req: CancelRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    cb: grpc.requestCallback<CancelResponse>,
  ): grpc.ClientUnaryCall;
  status(
    req: object,
    options: grpc.CallOptions,
    cb: grpc.requestCallback<RuntimeStatus>,
  ): grpc.ClientUnaryCall;
  watch(req: object, options?: grpc.CallOptions): grpc.ClientReadableStream<RuntimeStatus>;
}

/** Walks up from this file to the package root, so it works from src/ (jest) and dist/. */
export function protoDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'proto', 'peapods', 'v1', 'lifecycle.proto'))) return join(dir, 'proto');
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error('proto/peapods/v1/lifecycle.proto not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

/**
 * The proto as protobufjs JSON, generated from lifecycle.proto by `make generate` (a test
 * fails on drift). Loading it skips parsing .proto text, which was a fifth of the sidecar's
 * start-up, a start every Pea pod waits for.
 */
export const DESCRIPTOR_FILE = 'peapods/v1/lifecycle.descriptor.json';

/** What DESCRIPTOR_FILE must contain: lifecycle.proto and its imports, as JSON. */
export function lifecycleDescriptorJson(): string {
  const { loadSync } = require('protobufjs') as typeof protobuf;
  const root = loadSync(join(protoDir(), 'peapods/v1/lifecycle.proto'));
  return `${JSON.stringify(root.toJSON(), null, 1)}\n`;
}

let cached: grpc.ServiceDefinition | undefined;

/** The Lifecycle service, loaded once from DESCRIPTOR_FILE. */
export function lifecycleServiceDefinition(): grpc.ServiceDefinition {
  if (!cached) {
    const { fromJSON } = require('@grpc/proto-loader') as typeof protoLoader;
    cached = fromJSON(descriptor(), LOADER_OPTIONS)[LIFECYCLE_SERVICE] as grpc.ServiceDefinition;
  }
  return cached;
}

let json: protobuf.INamespace | undefined;
function descriptor(): protobuf.INamespace {
  json ??= JSON.parse(readFileSync(join(protoDir(), DESCRIPTOR_FILE), 'utf8')) as protobuf.INamespace;
  return json;
}

/**
 * The Lifecycle service for a server to register without loading protobufjs: paths and
 * streaming come from DESCRIPTOR_FILE, and requests are read and answers written by
 * proto-wire.ts, which holds them to proto-loader's bytes (test/unit/shared/proto-wire.test.ts).
 * What it cannot code (and a client's halves, which a server does not use) falls back to
 * lifecycleServiceDefinition()'s codecs, built on the first call that needs one.
 */
export function lifecycleServerDefinition(): grpc.ServiceDefinition {
  const root = descriptor() as JsonNamespace;
  const scope = LIFECYCLE_SERVICE.split('.').slice(0, -1);
  const methods = lookup(root, [], LIFECYCLE_SERVICE).type.methods ?? {};
  const real = (m: string) => lifecycleServiceDefinition()[m] as grpc.MethodDefinition<unknown, unknown>;
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [m, method] of Object.entries(methods)) {
    const request = messageCodec(root, lookup(root, scope, method.requestType).path);
    const response = messageCodec(root, lookup(root, scope, method.responseType).path);
    out[m] = {
      path: `/${LIFECYCLE_SERVICE}/${m}`,
      requestStream: method.requestStream ?? false,
      responseStream: method.responseStream ?? false,
      requestSerialize: (v: unknown) => real(m).requestSerialize(v),
      requestDeserialize: request.decode ?? ((b: Buffer) => real(m).requestDeserialize(b)),
      responseSerialize: response.encode ?? ((v: unknown) => real(m).responseSerialize(v)),
      responseDeserialize: (b: Buffer) => real(m).responseDeserialize(b),
    };
  }
  return out as grpc.ServiceDefinition;
}

const ClientCtor = (): grpc.ServiceClientConstructor =>
  grpc.makeGenericClientConstructor(lifecycleServiceDefinition(), 'Lifecycle');

/** A Lifecycle client for `host:port` (plaintext, as inside the cluster network). */
export function lifecycleClient(address: string, options: grpc.ClientOptions = {}): LifecycleClient {
  const Ctor = ClientCtor();
  return new Ctor(address, grpc.credentials.createInsecure(), options) as unknown as LifecycleClient;
}

/** A google.protobuf.Timestamp from epoch milliseconds (null: not set). */
export function toTimestamp(ms: number | undefined): Timestamp | null {
  if (ms === undefined) return null;
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

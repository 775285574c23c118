// grpc.health.v1 (the kubelet's readiness probe) with its two messages coded by hand, so that
// serving or calling Check and Watch loads no protobuf library. Importing grpc-health-check
// parses health.proto with @grpc/proto-loader and protobufjs, about 40 ms of the sidecar's
// start, which every Pea pod waits for. HealthCheckRequest and HealthCheckResponse have one
// field each; the codecs read and write them as protobufjs does, with proto-wire.ts
// (test/unit/shared/health-proto.test.ts checks them against grpc-health-check's, malformed
// input included). List, which no probe uses, takes grpc-health-check's own codecs, loaded on
// its first call.
import { createRequire } from 'node:module';
import type * as grpc from '@grpc/grpc-js';
import { Cursor, int32, varint } from './proto-wire.js';

const require = createRequire(import.meta.url);

/** A grpc.health.v1 status, named as proto-loader names enum values. */
export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

const STATUSES: readonly ServingStatus[] = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

/** HealthCheckRequest as proto-loader gives it (keepCase, defaults). */
export interface HealthCheckRequest {
  service: string;
}

/** HealthCheckResponse as proto-loader gives it: a status name, or its number when unknown. */
export interface HealthCheckResponse {
  status: ServingStatus | number;
}

/** Decodes a HealthCheckRequest; absent fields get proto3's defaults. */
export function decodeRequest(buf: Buffer): HealthCheckRequest {
  const c = new Cursor(buf);
  let service = '';
  c.fields((id) => {
    if (id === 1) service = c.string();
    return id === 1;
  });
  return { service };
}

/** Encodes a HealthCheckRequest; an empty service is written, as protobufjs writes a set field. */
export function encodeRequest(req: Partial<HealthCheckRequest>): Buffer {
  if (req.service === undefined || req.service === null) return Buffer.alloc(0);
  const text = Buffer.from(String(req.service), 'utf8');
  return Buffer.concat([Buffer.from([10, ...varint(text.length)]), text]);
}

/** Decodes a HealthCheckResponse: the status's name, or its number when it has none. */
export function decodeResponse(buf: Buffer): HealthCheckResponse {
  const c = new Cursor(buf);
  let status = 0;
  c.fields((id) => {
    if (id === 1) status = c.uint32() | 0;
    return id === 1;
  });
  return { status: STATUSES[status] ?? status };
}

/** Encodes a HealthCheckResponse; an unknown name is left out, as protobufjs's fromObject does. */
export function encodeResponse(res: Partial<HealthCheckResponse>): Buffer {
  const s = res.status;
  const n = typeof s === 'number' ? s : STATUSES.indexOf(s as ServingStatus);
  return n === -1 && typeof s !== 'number' ? Buffer.alloc(0) : Buffer.from([8, ...int32(n)]);
}

type Codecs = grpc.MethodDefinition<unknown, unknown>;
type Method = Codecs & { originalName: string };

function method(name: string, responseStream: boolean): Method {
  return {
    path: `/grpc.health.v1.Health/${name}`,
    requestStream: false,
    responseStream,
    requestSerialize: encodeRequest as (v: unknown) => Buffer,
    requestDeserialize: decodeRequest,
    responseSerialize: encodeResponse as (v: unknown) => Buffer,
    responseDeserialize: decodeResponse,
    originalName: name.toLowerCase(),
  };
}

/** List with grpc-health-check's codecs (a map of messages), loaded on its first call. */
function listMethod(): Method {
  const real = (): Codecs =>
    (require('grpc-health-check') as { service: grpc.ServiceDefinition }).service.List as Codecs;
  return {
    path: '/grpc.health.v1.Health/List',
    requestStream: false,
    responseStream: false,
    requestSerialize: (v) => real().requestSerialize(v),
    requestDeserialize: (b) => real().requestDeserialize(b),
    responseSerialize: (v) => real().responseSerialize(v),
    responseDeserialize: (b) => real().responseDeserialize(b),
    originalName: 'list',
  };
}

/** grpc.health.v1.Health as proto-loader defines it (methods Check, Watch, List), for servers and clients. */
export const healthService: grpc.ServiceDefinition = {
  Check: method('Check', false),
  Watch: method('Watch', true),
  List: listMethod(),
};

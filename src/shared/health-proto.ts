// grpc.health.v1 (the kubelet's readiness probe) with its two messages coded by hand, so that
// serving or calling Check and Watch loads no protobuf library. Importing grpc-health-check
// parses health.proto with @grpc/proto-loader and protobufjs, about 40 ms of the sidecar's
// start, which every Pea pod waits for. HealthCheckRequest and HealthCheckResponse have one
// field each; the codecs read and write them as protobufjs does (test/unit/shared/health-proto
// checks them against grpc-health-check's, malformed input included). List, which no probe
// uses, takes grpc-health-check's own codecs, loaded on its first call.
import { createRequire } from 'node:module';
import type * as grpc from '@grpc/grpc-js';

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

/** protobufjs's nesting limit for skipped groups (protoc's default recursion limit). */
const RECURSION_LIMIT = 100;

/** A read position in a message; each read throws as protobufjs's Reader does on a short buffer. */
class Cursor {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  private outOfRange(n = 1): RangeError {
    return new RangeError(`index out of range: ${this.pos} + ${n} > ${this.buf.length}`);
  }

  /** A varint's low 32 bits; past five bytes protobufjs skips five more unread. */
  uint32(): number {
    let value = 0;
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.buf.length) throw this.outOfRange();
      const b = this.buf[this.pos++] as number;
      value |= (b & 127) << (7 * i);
      if (b < 128) return value >>> 0;
    }
    if ((this.pos += 5) > this.buf.length) {
      this.pos = this.buf.length;
      throw this.outOfRange(10);
    }
    return value >>> 0;
  }

  /** A length-delimited UTF-8 string; a length past the end is cut there (protobufjs on a Buffer). */
  string(): string {
    const len = this.uint32();
    const start = this.pos;
    this.pos = Math.min(start + len, this.buf.length);
    return this.buf.toString('utf8', start, this.pos);
  }

  skip(n: number): void {
    if (this.pos + n > this.buf.length) throw this.outOfRange(n);
    this.pos += n;
  }

  skipType(wireType: number, depth = 0): void {
    if (depth > RECURSION_LIMIT) throw new Error('maximum nesting depth exceeded');
    switch (wireType) {
      case 0:
        do if (this.pos >= this.buf.length) throw this.outOfRange();
        while ((this.buf[this.pos++] as number) & 128);
        return;
      case 1:
        return this.skip(8);
      case 2:
        return this.skip(this.uint32());
      case 3:
        while ((wireType = this.uint32() & 7) !== 4) this.skipType(wireType, depth + 1);
        return;
      case 5:
        return this.skip(4);
      default:
        throw new Error(`invalid wire type ${wireType} at offset ${this.pos}`);
    }
  }

  /**
   * Calls `field` with each tag of field 1 and skips every other field. As protobufjs's
   * generated decoders, field 1 is read as its declared type whatever its wire type says.
   */
  fields(field: () => void): void {
    while (this.pos < this.buf.length) {
      const tag = this.uint32();
      if (tag >>> 3 === 1) field();
      else this.skipType(tag & 7);
    }
  }
}

function varint(n: number): number[] {
  const out: number[] = [];
  // Negative int32s are ten bytes, as protobufjs writes them (sign-extended to 64 bits).
  let lo = n >>> 0;
  let hi = n < 0 ? 0xffffffff : 0;
  while (hi !== 0 || lo > 127) {
    out.push((lo & 127) | 128);
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  out.push(lo);
  return out;
}

/** Decodes a HealthCheckRequest; absent fields get proto3's defaults. */
export function decodeRequest(buf: Buffer): HealthCheckRequest {
  const c = new Cursor(buf);
  let service = '';
  c.fields(() => (service = c.string()));
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
  c.fields(() => (status = c.uint32() | 0));
  return { status: STATUSES[status] ?? status };
}

/** Encodes a HealthCheckResponse; an unknown name is left out, as protobufjs's fromObject does. */
export function encodeResponse(res: Partial<HealthCheckResponse>): Buffer {
  const s = res.status;
  const n = typeof s === 'number' ? s : STATUSES.indexOf(s as ServingStatus);
  return n === -1 && typeof s !== 'number' ? Buffer.alloc(0) : Buffer.from([8, ...varint(n)]);
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

import { describe, expect, it } from '@jest/globals';
import type * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { service as reference } from 'grpc-health-check';
import { healthService } from '../../../src/shared/health-proto.js';

// The hand-written codecs against grpc-health-check's (proto-loader over health.proto): the
// same bytes for every message, the same objects or the same refusal for any bytes at all.
type Codec = grpc.MethodDefinition<unknown, unknown>;
const ours = healthService.Check as Codec;
const theirs = (reference as grpc.ServiceDefinition).Check as Codec;

/** The decoded object, or 'throws' where the decoder refuses the bytes. */
function outcome(decode: (b: Buffer) => unknown, bytes: Buffer): unknown {
  try {
    return decode(bytes);
  } catch {
    return 'throws';
  }
}

const bytes = fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a));
/** Field 1 with any wire type, and fields of other numbers, as a sender might add. */
const fields = fc.array(
  fc.oneof(
    fc.string().map((s) => ({ tag: 1, wire: 2, data: Buffer.from(s) })),
    fc.record({ tag: fc.integer({ min: 1, max: 40 }), wire: fc.constantFrom(0, 1, 2, 5), data: bytes }),
  ),
  { maxLength: 4 },
);

function message(parts: Array<{ tag: number; wire: number; data: Buffer }>): Buffer {
  const out: number[] = [];
  for (const p of parts) {
    out.push((p.tag << 3) | p.wire);
    if (p.wire === 0) out.push(p.data.length % 128);
    if (p.wire === 1) out.push(...p.data.subarray(0, 8), ...Array(Math.max(0, 8 - p.data.length)).fill(0));
    if (p.wire === 2) out.push(p.data.length, ...p.data.subarray(0, 127));
    if (p.wire === 5) out.push(...p.data.subarray(0, 4), ...Array(Math.max(0, 4 - p.data.length)).fill(0));
  }
  return Buffer.from(out);
}

describe('grpc.health.v1 without a protobuf library', () => {
  it('defines the methods grpc-health-check defines', () => {
    for (const name of ['Check', 'Watch', 'List']) {
      const [a, b] = [healthService[name] as Codec, (reference as grpc.ServiceDefinition)[name] as Codec];
      expect([a.path, a.requestStream, a.responseStream, a.originalName]).toEqual([
        b.path,
        b.requestStream,
        b.responseStream,
        b.originalName,
      ]);
    }
  });

  it('encodes requests and responses to the same bytes', () => {
    fc.assert(
      fc.property(fc.string(), (service) => {
        expect(ours.requestSerialize({ service })).toEqual(theirs.requestSerialize({ service }));
      }),
    );
    for (const status of ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN', 'BOGUS', 2, 9, -1])
      expect(ours.responseSerialize({ status })).toEqual(theirs.responseSerialize({ status }));
    expect(ours.requestSerialize({})).toEqual(theirs.requestSerialize({}));
    expect(ours.responseSerialize({})).toEqual(theirs.responseSerialize({}));
  });

  it('decodes well-formed messages, with fields it does not know, as protobufjs does', () => {
    fc.assert(
      fc.property(fields, (parts) => {
        const b = message(parts);
        expect(outcome(ours.requestDeserialize, b)).toEqual(outcome(theirs.requestDeserialize, b));
        expect(outcome(ours.responseDeserialize, b)).toEqual(outcome(theirs.responseDeserialize, b));
      }),
      { numRuns: 2000 },
    );
  });

  it('decodes or refuses any bytes as protobufjs does', () => {
    fc.assert(
      fc.property(bytes, (b) => {
        expect(outcome(ours.requestDeserialize, b)).toEqual(outcome(theirs.requestDeserialize, b));
        expect(outcome(ours.responseDeserialize, b)).toEqual(outcome(theirs.responseDeserialize, b));
      }),
      { numRuns: 5000 },
    );
  });
});

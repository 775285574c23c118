import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import {
  DESCRIPTOR_FILE,
  lifecycleServerDefinition,
  lifecycleServiceDefinition,
  LIFECYCLE_SERVICE,
  protoDir,
} from '../../../src/shared/lifecycle-proto.js';
import { lookup, messageCodec, type JsonNamespace } from '../../../src/shared/proto-wire.js';

// The sidecar's server halves of peapods.v1.Lifecycle (proto-wire.ts) against proto-loader's
// over the same descriptor: the same bytes for every answer the sidecar may write, the same
// object or the same refusal for any request bytes at all.
type Codecs = grpc.MethodDefinition<unknown, unknown>;
const ours = lifecycleServerDefinition() as unknown as Record<string, Codecs>;
const theirs = lifecycleServiceDefinition() as unknown as Record<string, Codecs>;
const methods = Object.keys(theirs);

function outcome(f: (x: never) => unknown, x: unknown): unknown {
  try {
    return f(x as never);
  } catch (err) {
    return `throws ${(err as Error).name}`;
  }
}

const maybe = <T>(a: fc.Arbitrary<T>) =>
  fc.option(a, { nil: undefined }).chain((v) => fc.constantFrom(v, null));
const timestamp = fc.record(
  {
    seconds: fc.oneof(
      fc.integer({ min: -1e12, max: 4e12 }),
      fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n }).map(String),
    ),
    nanos: fc.integer({ min: -1, max: 999_999_999 }),
  },
  { requiredKeys: [] },
);
/** Every field of RuntimeStatus, each absent, null, or of any value of its type (and the wrong enum names). */
const status = fc.record({
  phase: maybe(fc.oneof(fc.constantFrom('PHASE_READY', 'PHASE_EXITED', 'NO_SUCH_PHASE'), fc.integer())),
  ready: maybe(fc.boolean()),
  exitCode: maybe(fc.integer()),
  signal: maybe(fc.string()),
  reason: maybe(fc.string()),
  message: maybe(fc.string()),
  pid: maybe(fc.integer({ min: 0, max: 2 ** 22 })),
  startedTime: maybe(timestamp),
  readyTime: maybe(timestamp),
  cancelTime: maybe(timestamp),
  exitTime: maybe(timestamp),
  teardownTime: maybe(timestamp),
});

describe('proto-wire.ts: the Lifecycle messages without protobufjs', () => {
  it('has a codec of its own for every request the sidecar reads and every answer it writes', () => {
    expect(methods).toEqual(['Cancel', 'Status', 'Watch']);
    const root = JSON.parse(readFileSync(join(protoDir(), DESCRIPTOR_FILE), 'utf8')) as JsonNamespace;
    const scope = ['peapods', 'v1'];
    for (const [m, method] of Object.entries(lookup(root, [], LIFECYCLE_SERVICE).type.methods ?? {})) {
      // Without one, lifecycleServerDefinition() falls back to proto-loader: protobufjs on the start.
      expect(messageCodec(root, lookup(root, scope, method.requestType).path).decode).toBeDefined();
      expect(messageCodec(root, lookup(root, scope, method.responseType).path).encode).toBeDefined();
      expect((ours[m] as Codecs).path).toBe((theirs[m] as Codecs).path);
    }
  });

  it('writes every RuntimeStatus and CancelResponse as proto-loader does', () => {
    fc.assert(
      fc.property(status, fc.option(fc.boolean(), { nil: undefined }), (s, already) => {
        for (const m of ['Status', 'Watch']) {
          expect(outcome((ours[m] as Codecs).responseSerialize, s)).toEqual(
            outcome((theirs[m] as Codecs).responseSerialize, s),
          );
        }
        const cancel = { status: s, alreadyCancelled: already };
        expect((ours.Cancel as Codecs).responseSerialize(cancel)).toEqual(
          (theirs.Cancel as Codecs).responseSerialize(cancel),
        );
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses a Timestamp that is not an object, as proto-loader does', () => {
    const bad = { pid: 1, exitTime: 7 };
    expect(() => (ours.Status as Codecs).responseSerialize(bad)).toThrow(TypeError);
    expect(() => (theirs.Status as Codecs).responseSerialize(bad)).toThrow(TypeError);
  });

  it('reads every request, well-formed or not, as proto-loader does', () => {
    const requests = fc.oneof(
      fc.uint8Array({ maxLength: 48 }).map((a) => Buffer.from(a)),
      fc.string().map((r) => (theirs.Cancel as Codecs).requestSerialize({ reason: r })),
      fc
        .tuple(fc.string(), fc.uint8Array({ maxLength: 8 }))
        .map(([r, tail]) =>
          Buffer.concat([
            (theirs.Cancel as Codecs).requestSerialize({ reason: r }),
            Buffer.from([0x18, 5]),
            tail,
          ]),
        ),
    );
    fc.assert(
      fc.property(requests, (bytes) => {
        for (const m of methods) {
          expect(outcome((ours[m] as Codecs).requestDeserialize, bytes)).toEqual(
            outcome((theirs[m] as Codecs).requestDeserialize, bytes),
          );
        }
      }),
      { numRuns: 5000 },
    );
  });
});

import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import {
  DESCRIPTOR_FILE,
  lifecycleServerDefinition,
  lifecycleDescriptorJson,
  lifecycleServiceDefinition,
  protoDir,
} from '../../../src/shared/lifecycle-proto.js';

describe('the Lifecycle proto', () => {
  it(`${DESCRIPTOR_FILE} is what lifecycle.proto compiles to (run \`make generate\` after editing the proto)`, () => {
    expect(readFileSync(join(protoDir(), DESCRIPTOR_FILE), 'utf8')).toBe(lifecycleDescriptorJson());
  });

  it('loads from the descriptor exactly as from the .proto text', () => {
    const fromText = protoLoader.loadSync('peapods/v1/lifecycle.proto', {
      includeDirs: [protoDir()],
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    const text = fromText['peapods.v1.Lifecycle'] as Record<
      string,
      protoLoader.MethodDefinition<object, object>
    >;
    const json = lifecycleServiceDefinition() as unknown as Record<
      string,
      protoLoader.MethodDefinition<object, object>
    >;
    expect(Object.keys(json)).toEqual(Object.keys(text));
    const status = {
      phase: 'PHASE_READY',
      ready: true,
      exitCode: 3,
      reason: 'RunForeverError',
      startedTime: { seconds: '12', nanos: 5 },
    };
    for (const m of Object.keys(text)) {
      const a = text[m]!;
      const b = json[m]!;
      expect(b.path).toBe(a.path);
      expect(b.responseStream).toBe(a.responseStream);
      const bytes = a.responseSerialize(m === 'Cancel' ? { status, alreadyCancelled: true } : status);
      expect(b.responseDeserialize(bytes)).toEqual(a.responseDeserialize(bytes));
    }
  });

  it('the stand-in the sidecar registers has the same methods and, once called, the same codecs', () => {
    type Def = protoLoader.MethodDefinition<object, object>;
    const real = lifecycleServiceDefinition() as unknown as Record<string, Def>;
    const lazy = lifecycleServerDefinition() as unknown as Record<string, Def>;
    expect(Object.keys(lazy)).toEqual(Object.keys(real));
    for (const m of Object.keys(real)) {
      const [a, b] = [real[m]!, lazy[m]!];
      expect([b.path, b.requestStream, b.responseStream]).toEqual([
        a.path,
        a.requestStream,
        a.responseStream,
      ]);
      const req = m === 'Cancel' ? { reason: 'x' } : {};
      expect(b.requestSerialize(req)).toEqual(a.requestSerialize(req));
      expect(b.requestDeserialize(a.requestSerialize(req))).toEqual(
        a.requestDeserialize(a.requestSerialize(req)),
      );
      const res = m === 'Cancel' ? { status: { pid: 3 }, alreadyCancelled: true } : { pid: 3 };
      expect(b.responseSerialize(res)).toEqual(a.responseSerialize(res));
      expect(b.responseDeserialize(a.responseSerialize(res))).toEqual(
        a.responseDeserialize(a.responseSerialize(res)),
      );
    }
  });
});

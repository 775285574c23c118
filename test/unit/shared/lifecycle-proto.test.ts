import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import {
  DESCRIPTOR_FILE,
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
});

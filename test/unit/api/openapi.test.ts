// The building blocks a kind is declared with (src/api/openapi.ts): what a CRD gets from a
// TypeBox declaration, shown on a small made-up kind so that PeaSet or any later kind can
// rely on the same behaviour.
import { describe, expect, it } from '@jest/globals';
import { Type } from '@sinclair/typebox';
import { customResourceDefinition, openApiSchema, stringEnum, type Json } from '../../../src/api/openapi.js';

const declare = (schema: Parameters<typeof customResourceDefinition>[0]['schema']): Json => {
  const crd = customResourceDefinition({
    group: 'example.io',
    version: 'v1',
    kind: 'Bean',
    plural: 'beans',
    singular: 'bean',
    shortNames: [],
    categories: [],
    printerColumns: [],
    schema,
  }) as { spec: { versions: Array<{ schema: { openAPIV3Schema: Json } }> } };
  return crd.spec.versions[0]!.schema.openAPIV3Schema;
};

describe('openapi.ts', () => {
  it('carries rules on the whole object, and requires only what users write', () => {
    const rule = { rule: 'self.metadata.name.size() <= 52', message: 'metadata.name: at most 52 characters' };
    const root = declare(
      Type.Object(
        {
          apiVersion: Type.String(),
          kind: Type.String(),
          metadata: Type.Unsafe<object>({ type: 'object' }),
          spec: Type.Object(
            { size: Type.Integer({ description: 'How big.' }) },
            { description: 'What to grow.' },
          ),
        },
        { description: 'A bean.', 'x-kubernetes-validations': [rule] },
      ),
    );
    expect(root).toEqual({
      type: 'object',
      description: 'A bean.',
      required: ['spec'],
      properties: {
        apiVersion: { type: 'string' },
        kind: { type: 'string' },
        metadata: { type: 'object' },
        spec: {
          type: 'object',
          description: 'What to grow.',
          required: ['size'],
          properties: { size: { type: 'integer', description: 'How big.' } },
        },
      },
      'x-kubernetes-validations': [rule],
    });
  });

  it('writes plain JSON: type first, the Kubernetes extensions last, no TypeBox markers', () => {
    const schema = openApiSchema(
      Type.Array(Type.String(), {
        'x-kubernetes-list-type': 'set',
        description: 'Tags.',
        maxItems: 3,
      }),
    );
    expect(Object.keys(schema)).toEqual([
      'type',
      'description',
      'maxItems',
      'items',
      'x-kubernetes-list-type',
    ]);
    expect(Object.getOwnPropertySymbols(schema)).toEqual([]);
    expect(Object.getOwnPropertySymbols(schema.items as object)).toEqual([]);
  });

  it('makes enums an enum, not the union of literals the API server cannot take', () => {
    const schema = openApiSchema(stringEnum(['A', 'B'], 'A or B.'));
    expect(schema).toEqual({ type: 'string', description: 'A or B.', enum: ['A', 'B'] });
    const literal = Type.Object({ mode: Type.Union([Type.Literal('A'), Type.Literal('B')]) });
    expect(() => openApiSchema(literal)).toThrow(/const has no place in a CRD schema/);
  });
});

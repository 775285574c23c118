// Building blocks for declaring a Kubernetes kind once. A kind's file (v1alpha1/types.ts for
// the Pea) declares its schema with TypeBox (`Type.*` and the helpers here) and takes its
// TypeScript types from it with `Static<>`; customResourceDefinition() turns the same
// declaration into the CRD. TypeBox passes any extra option through into the schema, which
// is how descriptions, defaults and the `x-kubernetes-*` extensions get there.
import { Type, type SchemaOptions, type TSchema, type TUnsafe } from '@sinclair/typebox';

/** Plain JSON, as it goes into the CRD. */
export type Json = Record<string, unknown>;

/** A CEL rule (`x-kubernetes-validations`), on a field or on the whole object, as the API server takes it. */
export interface CelRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  reason?: string;
  fieldPath?: string;
  /** Run the rule on create too, where oldSelf has no value (transition rules skip creates otherwise). */
  optionalOldSelf?: boolean;
}

/** The options of a schema node: JSON Schema's, plus the Kubernetes extensions typed. */
export interface KubeOptions extends SchemaOptions {
  'x-kubernetes-validations'?: CelRule[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
}

/** "A, B or C": a list of words in a description, from the list the schema enforces. */
export function either(words: readonly string[]): string {
  return words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} or ${words.at(-1)}`;
}

/**
 * A string that is one of `values`, typed as their union. As `enum`, not TypeBox's union of
 * literals: the API server's schemas have no `const`.
 */
export function stringEnum<const T extends readonly string[]>(
  values: T,
  description: string,
  options: KubeOptions = {},
): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', description, enum: [...values], ...options });
}

/** A 32-bit integer, Kubernetes' usual width for counts and seconds. */
export const int32 = (description: string, options: KubeOptions = {}) =>
  Type.Integer({ format: 'int32', description, ...options });

/** A 64-bit integer, as Kubernetes declares generations. */
export const int64 = (description: string) => Type.Integer({ format: 'int64', description });

/** A time, RFC 3339 as in every Kubernetes object. */
export const dateTime = (description: string) => Type.String({ description, format: 'date-time' });

/** A map of strings, such as labels (TypeBox's Record would be patternProperties, which Kubernetes lacks). */
export const stringMap = (description: string) =>
  Type.Unsafe<Record<string, string>>({
    type: 'object',
    description,
    additionalProperties: { type: 'string' },
  });

/**
 * One of Kubernetes' own objects (Affinity, ResourceRequirements, …), typed as client-node's
 * type `T`. The CRD keeps it as it comes: the API server validates it when the pod is created.
 */
export const kubeObject = <T>(description: string, options: KubeOptions = {}) =>
  Type.Unsafe<T>({ type: 'object', description, 'x-kubernetes-preserve-unknown-fields': true, ...options });

/** A list of Kubernetes' own objects (EnvVar, Volume, …): see kubeObject. */
export const kubeList = <T>(description: string, options: KubeOptions = {}) =>
  Type.Unsafe<T[]>({
    type: 'array',
    description,
    items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    ...options,
  });

// What TypeBox can emit but a CRD's structural schema cannot hold: Literal gives const,
// Record patternProperties, Ref and Recursive $ref/$id. Refused at generation, not at apply.
const NOT_IN_CRDS = ['const', 'patternProperties', '$ref', '$id'];

/**
 * The schema as it goes into the CRD: TypeBox's markers (symbol keys) dropped; in each node
 * `type` first and the `x-kubernetes-*` extensions last, the order the Pea's CRD always had.
 */
export function openApiSchema(node: TSchema, path = ''): Json {
  const keys = Object.keys(node);
  const bad = keys.find((k) => NOT_IN_CRDS.includes(k));
  if (bad) {
    throw new Error(
      `${path || 'the root'}: ${bad} has no place in a CRD schema; use the helpers in openapi.ts`,
    );
  }
  const ext = (k: string): boolean => k.startsWith('x-kubernetes-');
  const rest = keys.filter((k) => k !== 'type' && !ext(k));
  const ordered = [...keys.filter((k) => k === 'type'), ...rest, ...keys.filter(ext)];
  const out: Json = {};
  for (const k of ordered) {
    const v = node[k] as TSchema;
    if (k === 'properties') {
      out[k] = Object.fromEntries(
        Object.entries(v).map(([name, s]) => [name, openApiSchema(s, `${path}.${name}`)]),
      );
    } else if (k === 'items' || k === 'not' || (k === 'additionalProperties' && typeof v === 'object')) {
      out[k] = openApiSchema(v, `${path}[]`);
    } else if (k === 'anyOf' || k === 'allOf' || k === 'oneOf') {
      out[k] = (v as unknown as TSchema[]).map((s) => openApiSchema(s, path));
    } else out[k] = v;
  }
  return out;
}

// The API server fills in apiVersion, kind and metadata itself, so the types have them
// always while the CRD requires only what users write.
const SERVER_SET = ['apiVersion', 'kind', 'metadata'];

function rootSchema(schema: TSchema): Json {
  const root = openApiSchema(schema);
  const required = ((root.required ?? []) as string[]).filter((k) => !SERVER_SET.includes(k));
  if (required.length > 0)
    root.required = required; // same place among the keys
  else delete root.required;
  return root;
}

/** What a CRD says beyond the schema: its names, and the columns `kubectl get` shows. */
export interface KindDeclaration {
  group: string;
  version: string;
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  printerColumns: Json[];
  /** The whole object: apiVersion, kind, metadata, spec and status; its options carry rules on the whole object. */
  schema: TSchema;
  /** A /scale subresource (kubectl scale, HorizontalPodAutoscaler): where replicas and the pod selector live. */
  scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath: string };
}

/** The CustomResourceDefinition of a namespaced kind with a status subresource (and /scale), from its declaration. */
export function customResourceDefinition(d: KindDeclaration): Json {
  const { group, version, kind, plural, singular, shortNames, categories } = d;
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      names: { kind, listKind: `${kind}List`, plural, singular, shortNames, categories },
      scope: 'Namespaced',
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          subresources: d.scale ? { status: {}, scale: d.scale } : { status: {} },
          additionalPrinterColumns: d.printerColumns,
          schema: { openAPIV3Schema: rootSchema(d.schema) },
        },
      ],
    },
  };
}

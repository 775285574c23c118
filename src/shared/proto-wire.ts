// The protobuf wire format for the sidecar's own messages, read and written as protobufjs
// (through @grpc/proto-loader, with the options lifecycle-proto.ts and grpc-health-check use)
// reads and writes them, without loading either: the two cost the sidecar about 40 ms of its
// start, which every Pea pod waits for. Only what the sidecar's messages use is here (string,
// bool, int32, int64, enums and messages, no repeated fields or maps); messageCodec() says
// when a message needs more, and the caller keeps proto-loader's codec for it.
// test/unit/shared/proto-wire.test.ts holds it to proto-loader's bytes and objects.

/** protobufjs's nesting limit for skipped groups (protoc's default recursion limit). */
const RECURSION_LIMIT = 100;

/** A read position in a message; each read throws as protobufjs's Reader does on a short buffer. */
export class Cursor {
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

  private skip(n: number): void {
    if (this.pos + n > this.buf.length) throw this.outOfRange(n);
    this.pos += n;
  }

  /** Skips a field of an unknown number. */
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
   * Calls `read` with each field's number until the end; it returns false for a number it
   * does not know, which is skipped. As protobufjs's generated decoders do, a known field is
   * read as its declared type whatever wire type its tag says.
   */
  fields(read: (id: number) => boolean): void {
    while (this.pos < this.buf.length) {
      const tag = this.uint32();
      if (!read(tag >>> 3)) this.skipType(tag & 7);
    }
  }
}

/** A varint as protobufjs writes it: negative numbers as ten bytes (sign-extended to 64 bits). */
export function varint(value: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  for (; v > 127n; v >>= 7n) out.push(Number(v & 127n) | 128);
  out.push(Number(v));
  return out;
}

/** An int32 (or enum) as protobufjs's Writer.int32 writes it: negative ones sign-extended. */
export function int32(value: number): number[] {
  return varint(value < 0 ? Math.trunc(value) : value >>> 0);
}

/** A length-delimited field: tag, length, bytes. */
function delimited(id: number, bytes: ArrayLike<number>): number[] {
  return [...varint((id << 3) | 2), ...varint(bytes.length), ...Array.from(bytes)];
}

/** An int64 as protobufjs's Long.fromValue takes a number (cut to an integer, NaN as 0) or a decimal string. */
function int64(v: unknown): bigint {
  if (typeof v === 'number') return Number.isNaN(v) ? 0n : BigInt(Math.trunc(v));
  return BigInt(v as string | bigint);
}

/** A message or enum of a protobufjs JSON descriptor (a .proto's root.toJSON()). */
export interface JsonNamespace {
  nested?: Record<string, JsonNamespace>;
  fields?: Record<string, { type: string; id: number; rule?: string; keyType?: string; options?: object }>;
  values?: Record<string, number>;
  methods?: Record<
    string,
    { requestType: string; responseType: string; requestStream?: boolean; responseStream?: boolean }
  >;
}

/** `name` as protobufjs finds it from the namespace `scope` (a path from the root): inner scopes first. */
export function lookup(
  root: JsonNamespace,
  scope: string[],
  name: string,
): { path: string[]; type: JsonNamespace } {
  for (let i = scope.length; i >= 0; i--) {
    const path = [...scope.slice(0, i), ...name.split('.')];
    let t: JsonNamespace | undefined = root;
    for (const part of path) t = t?.nested?.[part];
    if (t) return { path, type: t };
  }
  throw new Error(`${name} is not in the descriptor (looked up from ${scope.join('.')})`);
}

/** A message's encoder and decoder, as proto-loader's serialize and deserialize (absent where they cannot be). */
export interface MessageCodec {
  encode?: (obj: unknown) => Buffer;
  decode?: (buf: Buffer) => Record<string, unknown>;
}

/** What encode() writes besides enums and messages. */
const SCALARS = new Set(['string', 'bool', 'int32', 'int64']);
/** What decode() reads; int64 (a string with longs: String) and messages are not needed yet. */
const DECODABLE = new Set(['string', 'bool', 'int32']);

/**
 * The codec of the message at `path` in `root`. Where one of its fields (or of the messages
 * it holds) has a form this file does not write, there is no encode; where one has a form it
 * does not read, no decode.
 */
export function messageCodec(root: JsonNamespace, path: string[]): MessageCodec {
  const built = <T>(make: () => T): T | undefined => {
    try {
      return make();
    } catch {
      return undefined;
    }
  };
  const encode = built(() => encoder(root, path, 0));
  return {
    encode: encode && ((obj) => Buffer.from(encode(obj as object))),
    decode: built(() => decoder(root, path)),
  };
}

function encoder(root: JsonNamespace, path: string[], depth: number): (obj: object) => number[] {
  // A message that holds itself would recurse for ever here: proto-loader's codec takes it.
  if (depth > RECURSION_LIMIT) throw new Error(`${path.join('.')}: nested too deep`);
  const type = lookup(root, [], path.join('.')).type;
  const name = path.join('.');
  const fields = Object.entries(type.fields ?? {}).sort((a, b) => a[1].id - b[1].id);
  const writers = fields.map(([key, f]) => {
    if (f.rule === 'repeated' || f.keyType) throw new Error(`${name}.${key}: repeated or map`);
    if (SCALARS.has(f.type)) return scalarWriter(key, f.id, f.type);
    const found = lookup(root, path, f.type);
    if (found.type.values) return enumWriter(key, f.id, found.type.values);
    const inner = encoder(root, found.path, depth + 1);
    return (obj: Record<string, unknown>, out: number[]): void => {
      const v = obj[key];
      if (v === null || v === undefined) return;
      if (typeof v !== 'object') throw new TypeError(`.${name}.${key}: object expected`);
      out.push(...delimited(f.id, inner(v)));
    };
  });
  return (obj) => {
    const out: number[] = [];
    for (const write of writers) write(obj as Record<string, unknown>, out);
    return out;
  };
}

type Writer = (obj: Record<string, unknown>, out: number[]) => void;

// fromObject sets every field given as neither null nor undefined, and encode writes every
// field set, proto3's defaults too ('' and false are written).
function scalarWriter(key: string, id: number, type: string): Writer {
  return (obj, out) => {
    const v = obj[key];
    if (v === null || v === undefined) return;
    if (type === 'string') return void out.push(...delimited(id, Buffer.from(String(v), 'utf8')));
    out.push(...varint(id << 3));
    if (type === 'bool') out.push(v ? 1 : 0);
    else out.push(...(type === 'int64' ? varint(int64(v)) : int32((v as number) | 0)));
  };
}

/** An enum by name or number; a name the enum does not have is left out, as fromObject does. */
function enumWriter(key: string, id: number, values: Record<string, number>): Writer {
  return (obj, out) => {
    const v = obj[key];
    const n =
      typeof v === 'number' ? v : typeof v === 'string' && Object.hasOwn(values, v) ? values[v] : undefined;
    if (n !== undefined) out.push(...varint(id << 3), ...int32(n));
  };
}

function decoder(root: JsonNamespace, path: string[]): (buf: Buffer) => Record<string, unknown> {
  const type = lookup(root, [], path.join('.')).type;
  const byId = new Map<number, { key: string; read: (c: Cursor) => unknown; initial: unknown }>();
  for (const [key, f] of Object.entries(type.fields ?? {})) {
    const values = DECODABLE.has(f.type) ? undefined : lookup(root, path, f.type).type.values;
    // proto3 `optional` fields (options) get no default and a oneof name from toObject.
    if ((!values && !DECODABLE.has(f.type)) || f.rule || f.keyType || f.options)
      throw new Error(`${path.join('.')}.${key}: not a field proto-wire.ts reads`);
    byId.set(f.id, fieldReader(key, f.type, values));
  }
  return (buf) => {
    const out: Record<string, unknown> = {};
    for (const f of byId.values()) out[f.key] = f.initial;
    const c = new Cursor(buf);
    c.fields((id) => {
      const f = byId.get(id);
      if (f) out[f.key] = f.read(c);
      return f !== undefined;
    });
    return out;
  };
}

/** A field as toObject gives it with defaults and enums as names (an unnamed number stays a number). */
function fieldReader(key: string, type: string, values?: Record<string, number>) {
  if (values) {
    const names = new Map(Object.entries(values).map(([k, v]) => [v, k] as const));
    const first = Object.values(values)[0] ?? 0;
    const read = (c: Cursor): unknown => {
      const n = c.uint32() | 0;
      return names.get(n) ?? n;
    };
    return { key, initial: names.get(first) ?? first, read };
  }
  if (type === 'string') return { key, initial: '', read: (c: Cursor) => c.string() };
  if (type === 'bool') return { key, initial: false, read: (c: Cursor) => c.uint32() !== 0 };
  return { key, initial: 0, read: (c: Cursor) => c.uint32() | 0 };
}

// Malformed and hostile inputs for a running sidecar ("bad input, at volume"), made
// by fast-check from a seed so any run can be repeated. Shared by the test, which checks
// every answer (test/sidecar/hostile.test.ts), and the flood benchmark, which times health
// while they arrive (bench/sidecar-flood.bench.ts).
//
// None of them may change the runtime's state: a Cancel that would decode and carries the
// right token is never generated (the Lifecycle's own deserializer is the oracle).
import { connect, type Socket } from 'node:net';
import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { lifecycleServiceDefinition } from '../../src/shared/lifecycle-proto.js';
import { presentedToken, tokenMatches } from '../../src/shared/bearer.js';
import { MAX_MESSAGE_BYTES } from '../../src/runtime/sidecar/grpc-server.js';

const S = grpc.status;

export interface Target {
  port: number;
  token: string;
}

export interface HostileInput {
  kind: string;
  /** Enough to repeat it: the bytes, path or header, shortened. */
  detail: string;
  /** The answers that are right; a deadline never is (it would mean the sidecar hung). */
  allowed: readonly grpc.status[];
  /** Resolves one answer per call it made (a burst makes many). */
  send(c: Connections): Promise<grpc.status[]>;
}

const id = (b: Buffer): Buffer => b;
const DEADLINE_MS = 10_000;

/**
 * The client side: a few grpc-js connections shared by the unary inputs, plus whatever the
 * held inputs (slow readers, half-open sockets) keep open until release().
 */
export class Connections {
  private readonly clients: grpc.Client[];
  private next = 0;
  private readonly held: Array<() => void> = [];

  constructor(
    readonly target: Target,
    connections = 4,
  ) {
    // A local subchannel pool gives each client a connection of its own.
    this.clients = Array.from(
      { length: connections },
      () =>
        new grpc.Client(`127.0.0.1:${target.port}`, grpc.credentials.createInsecure(), {
          'grpc.use_local_subchannel_pool': 1,
        }),
    );
  }

  client(): grpc.Client {
    return this.clients[this.next++ % this.clients.length] as grpc.Client;
  }

  hold(release: () => void): void {
    this.held.push(release);
  }

  /** Lets go of the slow readers and half-open sockets; they were hostile by staying. */
  release(): void {
    for (const r of this.held.splice(0)) r();
  }

  close(): void {
    this.release();
    for (const c of this.clients) c.close();
  }
}

function metadata(auth: string | undefined): grpc.Metadata {
  const md = new grpc.Metadata();
  if (auth !== undefined) md.set('authorization', auth);
  return md;
}

/** A unary call with these exact bytes; resolves its status code. */
export function rawUnary(
  client: grpc.Client,
  path: string,
  body: Buffer,
  auth?: string,
): Promise<grpc.status> {
  return new Promise((resolve) =>
    client.makeUnaryRequest(
      path,
      id,
      id,
      body,
      metadata(auth),
      { deadline: Date.now() + DEADLINE_MS },
      (err) => resolve(err ? err.code : S.OK),
    ),
  );
}

/** A server-streaming call: OK once the first message arrives (then it is cancelled). */
export function rawStream(
  client: grpc.Client,
  path: string,
  body: Buffer,
  auth?: string,
  abandonAt: 'first-message' | 'at-once' = 'first-message',
): Promise<grpc.status> {
  return new Promise((resolve) => {
    const call = client.makeServerStreamRequest(path, id, id, body, metadata(auth), {
      deadline: Date.now() + DEADLINE_MS,
    });
    call.on('data', () => {
      resolve(S.OK);
      call.cancel();
    });
    call.on('error', (err: grpc.ServiceError) => resolve(err.code));
    call.on('status', (s: grpc.StatusObject) => resolve(s.code));
    if (abandonAt === 'at-once') setImmediate(() => call.cancel());
  });
}

/**
 * HTTP/2 below grpc-js, for what its client will not send: broken gRPC framing, and
 * streams whose flow-control window is 0, so the sidecar can never send them a byte.
 * Resolves the gRPC status once the call ended, or OK once the sidecar answered a stream
 * it is keeping open (its response headers); the session stays up until `close()`.
 */
function h2Call(
  port: number,
  path: string,
  frame: Buffer,
  auth: string | undefined,
  windowSize?: number,
): { answer: Promise<grpc.status>; close: () => void } {
  const session = http2.connect(
    `http://127.0.0.1:${port}`,
    windowSize === undefined ? {} : { settings: { initialWindowSize: windowSize } },
  );
  session.on('error', () => undefined);
  const answer = new Promise<grpc.status>((resolve) => {
    const timer = setTimeout(() => resolve(S.DEADLINE_EXCEEDED), DEADLINE_MS);
    const done = (code: grpc.status): void => {
      clearTimeout(timer);
      resolve(code);
    };
    const req = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...(auth === undefined ? {} : { authorization: auth }),
    });
    req.on('error', () => done(S.UNAVAILABLE));
    req.on('response', (h) => {
      if (h['grpc-status'] !== undefined) return done(Number(h['grpc-status'])); // trailers-only
      if (windowSize === 0) done(S.OK); // answered, and now it can never send us anything
    });
    req.on('data', () => done(S.OK)); // a stream the sidecar took (it is closed by close())
    req.on('trailers', (t) => done(Number(t['grpc-status'] ?? S.UNKNOWN)));
    req.on('close', () => done(S.UNAVAILABLE));
    req.end(frame);
  });
  return { answer, close: () => session.destroy() };
}

/** A gRPC length-prefixed message: compressed flag, 4-byte length, bytes. */
function frame(body: Buffer, compressed = false, claimedLength = body.length): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(compressed ? 1 : 0, 0);
  head.writeUInt32BE(claimedLength, 1);
  return Buffer.concat([head, body]);
}

const LIFECYCLE = lifecycleServiceDefinition();
const decodesAsCancel = (b: Uint8Array): boolean => {
  try {
    (LIFECYCLE.Cancel as grpc.MethodDefinition<object, object>).requestDeserialize(Buffer.from(b));
    return true;
  } catch {
    return false;
  }
};

/** Bytes a protobuf decoder must survive: random ones, and the classic traps. */
const badBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 300 }) },
  fc.constantFrom(
    Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), // field 1 claims 4 GiB
    Uint8Array.from([0x08, ...Array<number>(11).fill(0xff)]), // a varint longer than 10 bytes
    Uint8Array.from([0x0e]), // wire type 6 does not exist
    Uint8Array.from([0x0f, 0x01]), // nor does 7
    Uint8Array.from([0x0b, 0x0b, 0x0b]), // groups opened, never closed
    new Uint8Array(60_000).fill(0x0b), // 60,000 nested groups: a recursive skipper overflows its stack
    Uint8Array.from([0x0c]), // a group closed that was never opened
    Uint8Array.from([0x00, 0x01]), // field number 0
    Uint8Array.from([0x0a, 0x02, 0xc3, 0x28]), // field 1 as invalid UTF-8
    Uint8Array.from([0x12, 0x80]), // a length cut short
  ),
  // Messages nested as deep as fits: a decoder that recurses without a limit overflows.
  fc.integer({ min: 100, max: 2000 }).map((depth) => {
    let b = Buffer.alloc(0);
    for (let i = 0; i < depth && b.length < MAX_MESSAGE_BYTES - 8; i++)
      b = Buffer.concat([Buffer.from([0x0a, ...varint(b.length)]), b]);
    return new Uint8Array(b);
  }),
);

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

type Auth = 'none' | 'wrong' | 'right';

interface Method {
  path: string;
  stream: boolean;
  /** What each kind of caller may get back for bytes that may or may not decode. */
  allowed: Record<Auth, readonly grpc.status[]>;
}

const CONTROL_REFUSED = [S.INTERNAL, S.UNAUTHENTICATED] as const;
const METHODS: Record<string, Method> = {
  Cancel: {
    path: '/peapods.v1.Lifecycle/Cancel',
    stream: false,
    allowed: { none: CONTROL_REFUSED, wrong: CONTROL_REFUSED, right: [S.INTERNAL] },
  },
  Status: {
    path: '/peapods.v1.Lifecycle/Status',
    stream: false,
    allowed: { none: CONTROL_REFUSED, wrong: CONTROL_REFUSED, right: [S.INTERNAL, S.OK] },
  },
  Watch: {
    path: '/peapods.v1.Lifecycle/Watch',
    stream: true,
    allowed: { none: CONTROL_REFUSED, wrong: CONTROL_REFUSED, right: [S.INTERNAL, S.OK] },
  },
  // Health is open: the token changes nothing, and a decoded service name may be unknown.
  Check: {
    path: '/grpc.health.v1.Health/Check',
    stream: false,
    allowed: {
      none: [S.INTERNAL, S.OK, S.NOT_FOUND],
      wrong: [S.INTERNAL, S.OK, S.NOT_FOUND],
      right: [S.INTERNAL, S.OK, S.NOT_FOUND],
    },
  },
  HealthWatch: {
    path: '/grpc.health.v1.Health/Watch',
    stream: true,
    allowed: { none: [S.INTERNAL, S.OK], wrong: [S.INTERNAL, S.OK], right: [S.INTERNAL, S.OK] },
  },
};

const hex = (b: Uint8Array): string =>
  `${b.length} bytes ${Buffer.from(b.subarray(0, 24)).toString('hex')}${b.length > 24 ? '…' : ''}`;

export interface Volume {
  /** Random-bytes calls per method and kind of caller. */
  bytesPerMethod: number;
  oversized: number;
  unknownPaths: number;
  badAuth: number;
  cancelFlood: number;
  badFraming: number;
  /** Watch streams opened together and abandoned, in bursts of 50 on a connection each. */
  watchBursts: number;
  slowReaders: number;
  halfOpen: number;
}

export const TEST_VOLUME: Volume = {
  bytesPerMethod: 40,
  oversized: 30,
  unknownPaths: 100,
  badAuth: 200,
  cancelFlood: 300,
  badFraming: 40,
  watchBursts: 4,
  slowReaders: 20,
  halfOpen: 20,
};

/** The inputs, in a seeded shuffle so that the kinds interleave as a real flood would. */
export function hostileInputs(target: Target, seed: number, v: Volume = TEST_VOLUME): HostileInput[] {
  const wrong = 'Bearer ' + fc.sample(fc.stringMatching(/^[A-Za-z0-9_-]{32}$/), { seed, numRuns: 1 })[0];
  const authValue = (a: Auth): string | undefined =>
    a === 'none' ? undefined : a === 'wrong' ? wrong : `Bearer ${target.token}`;
  const sample = <T>(arb: fc.Arbitrary<T>, n: number, salt: number): T[] =>
    n > 0 ? fc.sample(arb, { seed: seed + salt, numRuns: n }) : [];
  const inputs: HostileInput[] = [];

  // Bad protobuf to every method, from every kind of caller.
  let salt = 1;
  for (const [name, m] of Object.entries(METHODS)) {
    for (const auth of ['none', 'wrong', 'right'] as const) {
      const bytes =
        name === 'Cancel' && auth === 'right' ? badBytes.filter((b) => !decodesAsCancel(b)) : badBytes;
      for (const b of sample(bytes, v.bytesPerMethod, salt++)) {
        inputs.push({
          kind: `bad protobuf → ${name}, token ${auth}`,
          detail: hex(b),
          allowed: m.allowed[auth],
          send: async (c) => [
            await (m.stream ? rawStream : rawUnary)(c.client(), m.path, Buffer.from(b), authValue(auth)),
          ],
        });
      }
    }
  }

  // Over the receive limit, to every method and to one that does not exist.
  for (const [path, size] of sample(
    fc.tuple(
      fc.constantFrom(...Object.values(METHODS).map((m) => m.path), '/no.such.Service/Method'),
      fc.integer({ min: MAX_MESSAGE_BYTES + 1, max: 1 << 20 }),
    ),
    v.oversized,
    100,
  )) {
    const stream = Object.values(METHODS).find((m) => m.path === path)?.stream ?? false;
    inputs.push({
      kind: 'oversized message',
      detail: `${size} bytes → ${path}`,
      allowed: path.startsWith('/no.such') ? [S.UNIMPLEMENTED, S.RESOURCE_EXHAUSTED] : [S.RESOURCE_EXHAUSTED],
      send: async (c) => [
        await (stream ? rawStream : rawUnary)(
          c.client(),
          path,
          Buffer.alloc(size, 0x0a),
          `Bearer ${target.token}`,
        ),
      ],
    });
  }

  // Services and methods that do not exist, some next to real ones.
  const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_.]{0,40}$/);
  const unknownPath = fc.oneof(
    fc.tuple(name, name).map(([s, m]) => `/${s}/${m}`),
    name.filter((m) => !['Cancel', 'Status', 'Watch'].includes(m)).map((m) => `/peapods.v1.Lifecycle/${m}`),
    name.filter((m) => !['Check', 'Watch', 'List'].includes(m)).map((m) => `/grpc.health.v1.Health/${m}`),
    fc.constantFrom(
      '/',
      '//',
      '/peapods.v1.Lifecycle',
      '/peapods.v1.Lifecycle/',
      '/peapods.v1.Lifecycle/Cancel/again',
      '/PEAPODS.V1.LIFECYCLE/CANCEL',
    ),
  );
  for (const path of sample(unknownPath, v.unknownPaths, 200)) {
    inputs.push({
      kind: 'unknown service or method',
      detail: path,
      allowed: [S.UNIMPLEMENTED],
      send: async (c) => [await rawUnary(c.client(), path, Buffer.alloc(0), `Bearer ${target.token}`)],
    });
  }

  // Authorization that is not the token: printable junk, near misses, other schemes.
  const tok = target.token;
  const accepted = (value: string): boolean =>
    [value, value.trim()].some((v) => {
      const p = presentedToken([v]);
      return 'token' in p && tokenMatches(tok, p.token);
    });
  const badAuth = fc
    .oneof(
      fc.string({
        unit: fc.integer({ min: 0x20, max: 0x7e }).map((n) => String.fromCharCode(n)),
        maxLength: 200,
      }),
      fc.stringMatching(/^[A-Za-z0-9+/=_-]{1,64}$/).map((t) => `Bearer ${t}`),
      fc.constantFrom(
        tok,
        `Bearer${tok}`,
        `Bearer ${tok}x`,
        `Bearer ${tok.slice(0, -1)}`,
        `Bearer ${tok}, Bearer x`,
        `Basic ${tok}`,
        `Token ${tok}`,
        `Bearer "${tok}"`,
        'Bearer',
        'Bearer ',
      ),
      fc.integer({ min: 8 * 1024, max: 60 * 1024 }).map((n) => `Bearer ${'A'.repeat(n)}`),
    )
    .filter((value) => !accepted(value));
  for (const [value, method] of sample(
    fc.tuple(badAuth, fc.constantFrom('Cancel', 'Status', 'Watch')),
    v.badAuth,
    300,
  )) {
    const m = METHODS[method] as Method;
    inputs.push({
      kind: `bad authorization → ${method}`,
      detail: JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…(${value.length})` : value),
      allowed: [S.UNAUTHENTICATED],
      send: async (c) => [
        await (m.stream ? rawStream : rawUnary)(c.client(), m.path, Buffer.alloc(0), value),
      ],
    });
  }

  // A flood of well-formed Cancels from strangers: no token, or a wrong one.
  for (const [auth, reason] of sample(
    fc.tuple(fc.constantFrom<Auth>('none', 'wrong'), fc.string({ maxLength: 300 })),
    v.cancelFlood,
    400,
  )) {
    const body = (LIFECYCLE.Cancel as grpc.MethodDefinition<object, object>).requestSerialize({ reason });
    inputs.push({
      kind: `Cancel flood, token ${auth}`,
      detail: `reason of ${reason.length} chars`,
      allowed: [S.UNAUTHENTICATED],
      send: async (c) => [await rawUnary(c.client(), METHODS.Cancel!.path, body, authValue(auth))],
    });
  }

  // Broken gRPC framing under the protobuf: compressed without an encoding, a length that
  // lies, a frame cut short.
  const framing = fc.tuple(
    fc.constantFrom(...Object.values(METHODS).map((m) => m.path)),
    fc.constantFrom<Auth>('none', 'right'),
    fc.oneof(
      badBytes.map((b) => ({
        what: 'compressed flag, no grpc-encoding',
        bytes: frame(Buffer.from(b), true),
      })),
      fc.integer({ min: 1, max: 2 ** 32 - 1 }).map((n) => ({
        what: `length ${n} claimed, 3 bytes sent`,
        bytes: frame(Buffer.from([1, 2, 3]), false, Math.max(n, 4)),
      })),
      fc.constantFrom(
        { what: 'half a frame header', bytes: Buffer.from([0, 0, 0]) },
        {
          what: 'two messages to a unary method',
          bytes: Buffer.concat([frame(Buffer.alloc(0)), frame(Buffer.alloc(0))]),
        },
      ),
    ),
  );
  for (const [path, auth, f] of sample(framing, v.badFraming, 500)) {
    if (path === METHODS.Cancel!.path && auth === 'right') continue; // a frame the server reads anyway would cancel
    inputs.push({
      kind: 'broken gRPC framing',
      detail: `${f.what} → ${path}, token ${auth}`,
      // Two empty messages to a unary method are a protocol error; to a stream method the
      // first one is taken (OK) or, without the token, refused.
      allowed: [
        S.INTERNAL,
        S.UNIMPLEMENTED,
        S.RESOURCE_EXHAUSTED,
        ...(auth === 'none' && path.includes('Lifecycle') ? [S.UNAUTHENTICATED] : [S.OK, S.NOT_FOUND]),
      ],
      send: async (c) => {
        const call = h2Call(c.target.port, path, f.bytes, authValue(auth));
        const code = await call.answer;
        call.close();
        return [code];
      },
    });
  }

  // Many Watch streams opened at once and abandoned: half cancelled, half cut off with
  // their connection, as a client that crashed would.
  for (let burst = 0; burst < v.watchBursts; burst++) {
    inputs.push({
      kind: 'Watch streams opened together and abandoned',
      detail: `burst ${burst}: 50 streams`,
      allowed: [S.OK, S.CANCELLED],
      send: async (c) => {
        const client = new grpc.Client(`127.0.0.1:${c.target.port}`, grpc.credentials.createInsecure(), {
          'grpc.use_local_subchannel_pool': 1,
        });
        const cancelled = Array.from({ length: 25 }, (_, i) =>
          rawStream(
            client,
            METHODS.Watch!.path,
            Buffer.alloc(0),
            `Bearer ${target.token}`,
            i % 2 ? 'at-once' : 'first-message',
          ),
        );
        const cut = Array.from({ length: 25 }, () =>
          h2Call(c.target.port, METHODS.Watch!.path, frame(Buffer.alloc(0)), `Bearer ${target.token}`, 0),
        );
        const codes = await Promise.all([...cancelled, ...cut.map((x) => x.answer)]);
        for (const x of cut) x.close();
        client.close();
        return codes;
      },
    });
  }

  // Slow clients: Watch with a flow-control window of 0, held open until release().
  for (let i = 0; i < v.slowReaders; i++) {
    const auth: Auth = i % 4 === 0 ? 'none' : 'right';
    inputs.push({
      kind: `slow reader (window 0) on ${i % 2 ? 'Lifecycle' : 'health'} Watch, token ${auth}`,
      detail: `reader ${i}`,
      allowed: auth === 'none' && i % 2 ? [S.UNAUTHENTICATED] : [S.OK],
      send: async (c) => {
        const call = h2Call(
          c.target.port,
          i % 2 ? METHODS.Watch!.path : METHODS.HealthWatch!.path,
          frame(Buffer.alloc(0)),
          authValue(auth),
          0,
        );
        c.hold(call.close);
        return [await call.answer];
      },
    });
  }

  // Half-open connections: half an HTTP/2 preface, then nothing, held until release().
  for (let i = 0; i < v.halfOpen; i++) {
    inputs.push({
      kind: 'half-open connection (half a preface, then silence)',
      detail: `socket ${i}`,
      allowed: [S.OK],
      send: (c) =>
        new Promise((resolve) => {
          const s: Socket = connect(c.target.port, '127.0.0.1', () => {
            s.write('PRI * HTTP/2.0\r\n');
            resolve([S.OK]); // connected and holding; there is no call to answer
          });
          s.on('error', () => resolve([S.UNAVAILABLE]));
          c.hold(() => s.destroy());
        }),
    });
  }

  return fc.sample(fc.shuffledSubarray(inputs, { minLength: inputs.length }), {
    seed,
    numRuns: 1,
  })[0] as HostileInput[];
}

export interface Outcome {
  input: HostileInput;
  codes: grpc.status[];
}

/** Sends every input, `concurrency` at a time, as fast as the sidecar answers. */
export async function sendAll(
  inputs: HostileInput[],
  c: Connections,
  concurrency: number,
  shouldStop: () => boolean = () => false,
): Promise<Outcome[]> {
  const out: Outcome[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < inputs.length && !shouldStop()) {
      const input = inputs[next++] as HostileInput;
      out.push({ input, codes: await input.send(c) });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

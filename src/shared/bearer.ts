// The Pea's control token on the wire, `authorization: Bearer <token>`, for both ends of the
// Lifecycle API: the operator attaches it to every control call (bearerMetadata), the
// sidecar reads its mounted copy and checks it (readTokenFile, presentedToken,
// tokenMatches). How the operator derives the token is src/operator/token.ts. Nothing here
// logs or returns a token.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';

/** The gRPC metadata key, as HTTP/2 carries it (lower case). */
export const AUTHORIZATION = 'authorization';

/** Metadata for a control call: `authorization: Bearer <token>`. */
export function bearerMetadata(token: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set(AUTHORIZATION, bearer(token));
  return md;
}

function bearer(token: string): string {
  const t = token.trim();
  // Checked here, where the caller can still be told, rather than refused by the sidecar.
  if (!/^[\x21-\x7e]+$/.test(t))
    throw new Error('a control token must be non-empty printable ASCII without spaces (e.g. base64 or hex)');
  return `Bearer ${t}`;
}

/**
 * The same for every call of a client: `lifecycleClient(address, { interceptors:
 * [bearerInterceptor(() => token)] })`. `token` is asked on each call, so a client can
 * outlive a rotation.
 */
export function bearerInterceptor(token: () => string): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set(AUTHORIZATION, bearer(token()));
        next(metadata, listener);
      },
    });
}

/**
 * The token in a mounted Secret file, trimmed (`kubectl create secret --from-file` keeps a
 * trailing newline); null when the file is missing, unreadable or blank, which callers must
 * treat as "refuse", never as "no token configured".
 */
export function readTokenFile(path: string): string | null {
  try {
    const t = readFileSync(path, 'utf8').trim();
    return t === '' ? null : t;
  } catch {
    return null;
  }
}

/** A presented token, or why none could be read. */
export type Presented = { token: string } | { problem: string };

/**
 * What a caller presented, from the values of its authorization entries (gRPC metadata or
 * HTTP headers): exactly one `Bearer <token>`, or why not.
 */
export function presentedToken(values: ReadonlyArray<string | Buffer>): Presented {
  if (values.length === 0) return { problem: 'no authorization sent' };
  if (values.length > 1) return { problem: 'more than one authorization entry' };
  const m = /^bearer +(\S+)\s*$/i.exec(String(values[0]));
  if (!m) return { problem: 'authorization is not "Bearer <token>"' };
  return { token: m[1] as string };
}

/**
 * Constant-time comparison. Both sides are hashed first, so the comparison always runs on
 * 32 bytes: neither the expected token's length nor how much of a guess matched can be
 * timed from outside.
 */
export function tokenMatches(expected: string, presented: string): boolean {
  const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(expected), digest(presented));
}

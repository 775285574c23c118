// What a failed call means, told from the error's type rather than its text: the API
// server's status code (client-node's ApiException), and the error a reconcile throws when
// retrying cannot help. apimachinery's apierrors and controller-runtime's TerminalError.
import { ApiException } from '@kubernetes/client-node';

/** The HTTP status of a failed API call, or undefined for anything else (a dropped connection, a bug). */
export function statusCode(err: unknown): number | undefined {
  return err instanceof ApiException ? (err as ApiException<unknown>).code : undefined;
}

/** 404: the object is not there (any more). */
export function isNotFound(err: unknown): boolean {
  return statusCode(err) === 404;
}

/**
 * 409: a write conditioned on a resourceVersion met a newer one (Conflict), or a create met
 * an object of the same name (AlreadyExists). Either way the cache was behind.
 */
export function isConflict(err: unknown): boolean {
  return statusCode(err) === 409;
}

/** The call's result; undefined when the object was not there (a delete or patch of something gone). */
export function ignoreNotFound<T>(call: Promise<T>): Promise<T | undefined> {
  return ignoring(call, isNotFound);
}

/** The created object; undefined when one of that name exists already (409 AlreadyExists). */
export function ignoreAlreadyExists<T>(create: Promise<T>): Promise<T | undefined> {
  return ignoring(create, isConflict);
}

async function ignoring<T>(call: Promise<T>, expected: (err: unknown) => boolean): Promise<T | undefined> {
  try {
    return await call;
  } catch (err) {
    if (expected(err)) return undefined;
    throw err;
  }
}

/**
 * A failure that retrying cannot mend (a pod the API server refuses for the Pea's spec): the
 * worker loop does not requeue it (see the contract in reconcile.ts). Its message is for the
 * Pea's status; `cause` keeps the API server's error.
 */
export class TerminalError extends Error {
  override readonly name = 'TerminalError';
}

/** The API server's own message from a failed call (its Status body), else describe(err). */
export function apiMessage(err: unknown): string {
  const body = (err as { body?: unknown }).body;
  try {
    const parsed = (typeof body === 'string' ? JSON.parse(body) : body) as { message?: unknown } | undefined;
    if (typeof parsed?.message === 'string') return parsed.message;
  } catch {
    // not JSON: fall through
  }
  return describe(err);
}

/** One line for a person (an Event's message): the status code and body, or the message and its cause. */
export function describe(err: unknown): string {
  const code = statusCode(err);
  const body = (err as { body?: unknown } | undefined)?.body;
  if (code && body)
    return `HTTP ${code}: ${(typeof body === 'string' ? body : JSON.stringify(body)).slice(0, 500)}`;
  // fetch's own message is only "fetch failed"; what went wrong is in its cause.
  const cause = (err as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  const why = cause ? ` (${[cause.code, cause.message].filter(Boolean).join(': ')})` : '';
  return `${(err as { message?: string } | undefined)?.message ?? String(err)}${why}`;
}

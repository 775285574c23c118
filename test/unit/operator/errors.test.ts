// Failed calls are told apart by type (client-node's ApiException), never by their text.
import { describe, expect, it } from '@jest/globals';
import { ApiException } from '@kubernetes/client-node';
import {
  apiMessage,
  describe as describeErr,
  ignoreAlreadyExists,
  ignoreNotFound,
  isConflict,
  isNotFound,
  statusCode,
  TerminalError,
} from '../../../src/operator/errors.js';
import { refusedForSpec } from '../../../src/operator/writes.js';
import type { Pea } from '../../../src/api/v1alpha1/types.js';

/** A failed call as client-node throws it. */
const api = (code: number, body: unknown = { message: `status ${code}` }): ApiException<unknown> =>
  new ApiException(code, 'm', body, {});

describe('error helpers', () => {
  it('read the status of an ApiException only', () => {
    expect(statusCode(api(404))).toBe(404);
    expect([isNotFound(api(404)), isConflict(api(409)), isNotFound(api(409))]).toEqual([true, true, false]);
    // Something shaped like one is not one: a bug or a dropped connection must not read as "gone".
    expect(isNotFound({ code: 404 })).toBe(false);
    expect(statusCode(new Error('fetch failed'))).toBeUndefined();
  });

  it('ignore only what they name', async () => {
    await expect(ignoreNotFound(Promise.reject(api(404)))).resolves.toBeUndefined();
    await expect(ignoreAlreadyExists(Promise.reject(api(409)))).resolves.toBeUndefined();
    await expect(ignoreNotFound(Promise.resolve(1))).resolves.toBe(1);
    await expect(ignoreNotFound(Promise.reject(api(409)))).rejects.toBeInstanceOf(ApiException);
  });

  it("tell a person the API server's own words", () => {
    const refused = 'spec.containers[0].image: Required value';
    expect(apiMessage(api(422, { message: refused }))).toBe(refused);
    expect(describeErr(api(403, { message: 'forbidden' }))).toBe('HTTP 403: {"message":"forbidden"}');
    const cause = Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
    expect(describeErr(new Error('fetch failed', { cause }))).toBe('fetch failed (ECONNREFUSED: refused)');
  });

  it('fails the Pea when its pod, or the Secret created with it, is refused for the spec', () => {
    // Whichever answers first: a name too long for a label refuses both.
    const pea = { metadata: { name: 'p', namespace: 'ns' } } as Pea;
    const label = api(422, { message: 'metadata.labels: Invalid value: must be no more than 63 characters' });
    expect(refusedForSpec(pea, label)).toBeInstanceOf(TerminalError);
    expect(refusedForSpec(pea, label)?.message).toMatch(
      /^could not create pod p-pea: metadata.labels: .*fix the Pea/,
    );
    const podSecurity = api(403, {
      message: 'pods "p-pea" is forbidden: violates PodSecurity "restricted:latest"',
    });
    expect(refusedForSpec(pea, podSecurity)).toBeInstanceOf(TerminalError);
    // RBAC or quota may pass later: retried.
    expect(refusedForSpec(pea, api(403, { message: 'exceeded quota' }))).toBeUndefined();
    expect(refusedForSpec(pea, api(500))).toBeUndefined();
  });
});

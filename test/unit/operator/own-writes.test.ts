// OwnWrites: the operator's own writes that its caches have not shown yet. The clock is a
// variable here so that expiry is tested without waiting.
import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import type { Pea } from '../../../src/api/v1alpha1/types.js';
import { OWN_WRITES_TTL_MS, OwnWrites } from '../../../src/operator/own-writes.js';

const pea = (uid: string): Pea => ({
  apiVersion: 'peapods.io/v1alpha1',
  kind: 'Pea',
  metadata: { name: 'p', namespace: 'ns', uid },
  spec: { image: 'i' },
});
const pod = (ownerUid: string): V1Pod => ({
  metadata: {
    name: 'p-pea',
    ownerReferences: [{ apiVersion: 'peapods.io/v1alpha1', kind: 'Pea', name: 'p', uid: ownerUid }],
    managedFields: [{}],
  },
  spec: { containers: [] },
});

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

describe('OwnWrites', () => {
  it('calls the versions we wrote over stale, and the next one fresh', () => {
    const w = new OwnWrites();
    w.wrote('ns/p', '1'); // finalizer patch over 1
    w.wrote('ns/p', '2'); // status patch over 2
    expect(w.stale('ns/p', '1')).toBe(true);
    expect(w.stale('ns/p', '2')).toBe(true);
    expect(w.stale('ns/p', '3')).toBe(false);
    expect(w.stale('ns/p', '2')).toBe(false); // once a newer copy was seen, the entry is gone
  });

  it('stops calling a version stale once the entry expires (a lost watch event)', () => {
    const c = clock();
    const w = new OwnWrites(c.now);
    w.wrote('ns/p', '1');
    c.advance(OWN_WRITES_TTL_MS);
    expect(w.stale('ns/p', '1')).toBe(false);
  });

  it('ignores keys and versions it knows nothing about', () => {
    const w = new OwnWrites();
    w.wrote('ns/p', undefined);
    expect(w.stale('ns/p', '1')).toBe(false);
    expect(w.stale('ns/q', undefined)).toBe(false);
  });

  it('stands in for a created pod the cache has not shown, trimmed, until the cache has it', () => {
    const w = new OwnWrites();
    w.created('ns/p', pod('u1'));
    expect(w.pod('ns/p', pea('u1'), undefined)).toEqual({
      metadata: { name: 'p-pea', ownerReferences: [expect.objectContaining({ uid: 'u1' })] },
    });
    const cached = pod('u1');
    expect(w.pod('ns/p', pea('u1'), cached)).toBe(cached);
    expect(w.pod('ns/p', pea('u1'), undefined)).toBeUndefined(); // forgotten once the cache had it
  });

  it('does not stand in for the pod of an earlier run after a restart', () => {
    const w = new OwnWrites();
    w.created('ns/p', pod('u1'));
    const restarted = { ...pea('u1'), status: { restartCount: 1 } };
    expect(w.pod('ns/p', restarted, undefined)).toBeUndefined();
  });

  it.each([
    ['a Pea re-created under the same name', (w: OwnWrites) => w.pod('ns/p', pea('u2'), undefined)],
    [
      'an expired entry (the pod was deleted before the cache saw it)',
      (w: OwnWrites, c: ReturnType<typeof clock>) => (
        c.advance(OWN_WRITES_TTL_MS),
        w.pod('ns/p', pea('u1'), undefined)
      ),
    ],
  ])('does not stand in for %s', (_what, look) => {
    const c = clock();
    const w = new OwnWrites(c.now);
    w.created('ns/p', pod('u1'));
    expect(look(w, c)).toBeUndefined();
  });

  it('forgets a deleted Pea', () => {
    const w = new OwnWrites();
    w.wrote('ns/p', '1');
    w.created('ns/p', pod('u1'));
    w.forget('ns/p');
    expect(w.stale('ns/p', '1')).toBe(false);
    expect(w.pod('ns/p', pea('u1'), undefined)).toBeUndefined();
  });
});

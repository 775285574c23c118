// The PeaSet controller's expectations (the ReplicaSet controller's word): the members it
// created or deleted that its Pea cache does not show so yet. Deciding before the cache shows
// them would create a second surge member or stop one more member than the budget allows.
// Entries expire, so a lost watch event delays a PeaSet but never strands it.
import type { Pea } from '../../api/v1alpha1/types.js';
import { OWN_WRITES_TTL_MS } from '../own-writes.js';

type Expected = 'create' | 'delete';

/** Per PeaSet key, the member names written and not yet seen. */
export class Expectations {
  private readonly byKey = new Map<string, Map<string, { what: Expected; at: number }>>();

  constructor(private readonly now: () => number = Date.now) {}

  /** We are about to create or delete this member. */
  expect(key: string, name: string, what: Expected): void {
    const entries = this.byKey.get(key) ?? new Map<string, { what: Expected; at: number }>();
    entries.set(name, { what, at: this.now() });
    this.byKey.set(key, entries);
  }

  /**
   * undefined when the cache shows every write (or they expired); else how long to wait at
   * most: the member's watch event brings the key back sooner.
   */
  pending(key: string, members: Pea[]): number | undefined {
    const entries = this.byKey.get(key);
    if (!entries) return undefined;
    const now = this.now();
    for (const [name, e] of entries) {
      const m = members.find((p) => p.metadata.name === name);
      const seen = e.what === 'create' ? m !== undefined : !m || Boolean(m.metadata.deletionTimestamp);
      if (seen || now - e.at >= OWN_WRITES_TTL_MS) entries.delete(name);
    }
    if (entries.size === 0) {
      this.byKey.delete(key);
      return undefined;
    }
    const oldest = Math.min(...[...entries.values()].map((e) => e.at));
    return OWN_WRITES_TTL_MS - (now - oldest);
  }

  /** The write failed: nothing to wait for. */
  drop(key: string, name: string): void {
    this.byKey.get(key)?.delete(name);
  }

  /** The PeaSet is gone. */
  forget(key: string): void {
    this.byKey.delete(key);
  }
}

// decidePeaSet() is pure: each row is a PeaSet, its members and a time, and what must follow.
import { describe, expect, it } from '@jest/globals';
import type { PeaSet, PeaSetSpec } from '../../../src/api/v1alpha1/peaset.js';
import type { Pea } from '../../../src/api/v1alpha1/types.js';
import {
  bounds,
  decidePeaSet,
  type MemberView,
  type PeaSetDecision,
} from '../../../src/operator/peaset/decide.js';
import {
  buildMember,
  ENDPOINTS_WAIT_SECONDS,
  ENV,
  LABEL_SERVING,
  revisionOf,
} from '../../../src/operator/peaset/members.js';

const T0 = new Date('2026-01-01T00:00:00Z');
const at = (s: number): Date => new Date(T0.getTime() + s * 1000);
const iso = (s: number): string => at(s).toISOString();

function peaSet(spec: Partial<PeaSetSpec> = {}, meta: Partial<PeaSet['metadata']> = {}): PeaSet {
  return {
    apiVersion: 'peapods.io/v1alpha1',
    kind: 'PeaSet',
    metadata: {
      name: 'web',
      namespace: 'ns',
      uid: 'set-uid',
      generation: 1,
      finalizers: ['peapods.io/drain'],
      ...meta,
    },
    spec: { replicas: 3, template: { spec: { image: 'img:1' } }, drainSeconds: 5, ...spec },
  };
}

interface MemberOpts {
  /** Ready since this many seconds after T0; undefined: not Ready. */
  readyAt?: number;
  /** Created from another template. */
  old?: boolean;
  /** Deleted (drain begun) at this many seconds after T0. */
  deletedAt?: number;
  drainedAt?: number;
  released?: boolean;
  letGo?: boolean;
  phase?: 'Succeeded' | 'Failed';
  finishedAt?: number;
  inService?: boolean;
  listed?: boolean;
}

function member(set: PeaSet, ordinal: number, o: MemberOpts = {}): MemberView {
  const base = o.old ? peaSet({ template: { spec: { image: 'img:0' } } }) : set;
  const pea = buildMember(base, ordinal, revisionOf(base));
  pea.metadata.uid = `m${ordinal}`;
  if (o.deletedAt !== undefined) pea.metadata.deletionTimestamp = at(o.deletedAt);
  if (o.released) pea.metadata.finalizers = [];
  if (o.drainedAt !== undefined) pea.metadata.annotations = { 'peapods.io/drained': iso(o.drainedAt) };
  if (o.letGo) pea.metadata.annotations = { ...pea.metadata.annotations, 'peapods.io/let-go': iso(106) };
  pea.status = {
    phase: o.phase ?? (o.readyAt !== undefined ? 'Ready' : 'Starting'),
    podName: `${pea.metadata.name}-pea`,
    ...(o.finishedAt !== undefined ? { finishTime: iso(o.finishedAt) } : {}),
    conditions: [
      {
        type: 'Ready',
        status: o.readyAt !== undefined ? 'True' : 'False',
        reason: 'x',
        message: 'x',
        lastTransitionTime: iso(o.readyAt ?? 0),
      },
    ],
  };
  return { pea, inService: o.inService ?? o.deletedAt === undefined, listed: o.listed ?? false };
}

const ready = (set: PeaSet, ...ordinals: number[]): MemberView[] =>
  ordinals.map((i) => member(set, i, { readyAt: 0 }));
const old = (set: PeaSet, ...ordinals: number[]): MemberView[] =>
  ordinals.map((i) => member(set, i, { readyAt: 0, old: true }));
/** Member writes as short strings: "+3" create, "-2" delete, "leave 1", "drained 1", "let go 1", "release 1". */
const writes = (d: PeaSetDecision): string[] =>
  d.actions.flatMap((a) => {
    if (a.kind === 'createMember') return [`+${a.ordinal}`];
    if (a.kind === 'deleteMember') return [`-${a.name.split('-')[1]}`];
    if (a.kind === 'leaveService') return [`leave ${a.name.split('-')[1]}`];
    if (a.kind === 'markDrained') return [`drained ${a.name.split('-')[1]}`];
    if (a.kind === 'letGoMember') return [`let go ${a.name.split('-')[1]}`];
    if (a.kind === 'releaseMember') return [`release ${a.name.split('-')[1]}`];
    if (a.kind === 'markPodDrained') return [`pod drained ${a.name.split('-')[1]}`];
    if (a.kind === 'cancelPod') return [`cancel ${a.name.split('-')[1]}`];
    return [];
  });
const condition = (d: PeaSetDecision, type: string) => d.status.conditions?.find((c) => c.type === type);

describe('decidePeaSet: scaling', () => {
  const set = peaSet();
  it.each<[string, PeaSet, MemberView[], string[]]>([
    ['creates every member of a new PeaSet', set, [], ['+0', '+1', '+2']],
    ['creates only the missing ordinals', set, ready(set, 0, 2), ['+1']],
    ['does nothing when all are there', set, ready(set, 0, 1, 2), []],
    [
      'scales down from the highest ordinal, all at once',
      peaSet({ replicas: 1 }),
      ready(set, 0, 1, 2),
      ['-2', '-1'],
    ],
    ['scales to zero', peaSet({ replicas: 0 }), ready(set, 0, 1), ['-1', '-0']],
    ['scales up 0 → 20 in one pass', peaSet({ replicas: 20 }), [], [...Array(20).keys()].map((i) => `+${i}`)],
    [
      'waits for a draining member before reusing its ordinal',
      set,
      [...ready(set, 0, 1), member(set, 2, { readyAt: 0, deletedAt: 1, inService: true })],
      ['leave 2'],
    ],
    [
      'stops an unavailable surplus member even with maxUnavailable 0',
      peaSet({ replicas: 2 }),
      [...ready(set, 0, 1), member(set, 2)],
      ['-2'],
    ],
  ])('%s', (_name, s, members, expected) => {
    expect(writes(decidePeaSet(s, members, at(10)))).toEqual(expected);
  });

  it('holds a scale-down that would leave fewer than replicas − maxUnavailable available', () => {
    // Member 1 is not Ready: stopping 2 would leave 1 available of the 2 wanted (Surge, maxUnavailable 0).
    const s = peaSet({ replicas: 2 });
    const d = decidePeaSet(
      s,
      [member(s, 0, { readyAt: 0 }), member(s, 1), member(s, 2, { readyAt: 0 })],
      at(10),
    );
    expect(writes(d)).toEqual([]);
  });
});

describe('decidePeaSet: the drain of a member being stopped', () => {
  const set = peaSet();
  const draining = (o: MemberOpts): MemberView[] => [
    ...ready(set, 0, 1),
    member(set, 2, { readyAt: 0, deletedAt: 100, ...o }),
  ];
  it.each<[string, MemberOpts, number, string[]]>([
    ['step 1: its pod leaves the Service', { inService: true, listed: true }, 100, ['leave 2']],
    ['step 2: waits while an EndpointSlice lists it', { inService: false, listed: true }, 101, []],
    ['step 2 done: no EndpointSlice lists it', { inService: false, listed: false }, 101, ['drained 2']],
    [
      'step 2 bounded: still listed after the wait',
      { inService: false, listed: true },
      100 + ENDPOINTS_WAIT_SECONDS,
      ['drained 2'],
    ],
    ['step 3: drainSeconds not over yet', { inService: false, drainedAt: 101 }, 105, []],
    [
      'step 4: drainSeconds over, let go of to be cancelled',
      { inService: false, drainedAt: 101 },
      106,
      ['let go 2'],
    ],
    ['let go of and still running: left to the Pea controller', { letGo: true, drainedAt: 101 }, 200, []],
    [
      'a member with nothing running is released at once',
      { phase: 'Failed', inService: false },
      100,
      ['release 2'],
    ],
    ['a released member is left to the Pea controller', { released: true, inService: false }, 200, []],
  ])('%s', (_name, o, time, expected) => {
    expect(writes(decidePeaSet(set, draining(o), at(time)))).toEqual(expected);
  });

  it('says when the EndpointSlice wait ran out (Event DrainTimeout), and wakes at each deadline', () => {
    const timedOut = decidePeaSet(set, draining({ inService: false, listed: true }), at(130));
    expect(timedOut.events.map((e) => e.reason)).toContain('DrainTimeout');
    const waiting = decidePeaSet(set, draining({ inService: false, listed: true }), at(110));
    expect(waiting.requeueAfterMs).toBe(20_000);
    const draining3 = decidePeaSet(set, draining({ inService: false, drainedAt: 101 }), at(104));
    expect(draining3.requeueAfterMs).toBe(2000);
  });

  it('drains every member of a deleted PeaSet, then removes its finalizer', () => {
    const deleted = peaSet({}, { deletionTimestamp: at(50) });
    const d = decidePeaSet(deleted, ready(set, 0, 1, 2), at(60));
    expect(writes(d)).toEqual(['-2', '-1', '-0']);
    expect(d.actions.map((a) => a.kind)).not.toContain('applyService');
    expect(decidePeaSet(deleted, [], at(70)).actions).toEqual([{ kind: 'removeFinalizer' }]);
  });
});

describe("decidePeaSet: the drain of a member's pod being deleted (an eviction)", () => {
  const set = peaSet();
  const evicted = (o: { inService?: boolean; listed?: boolean; drainedAt?: number }): MemberView[] => {
    const m = member(set, 2, { readyAt: 0, inService: o.inService ?? true, listed: o.listed ?? false });
    m.podStopping = { since: at(100), ...(o.drainedAt !== undefined ? { drained: at(o.drainedAt) } : {}) };
    return [...ready(set, 0, 1), m];
  };
  it.each<[string, Parameters<typeof evicted>[0], number, string[]]>([
    ['leaves the Service', { inService: true, listed: true }, 100, ['leave 2']],
    ['waits while listed', { inService: false, listed: true }, 101, []],
    ['marks the pod once no EndpointSlice lists it', { inService: false }, 101, ['pod drained 2']],
    ['waits drainSeconds', { inService: false, drainedAt: 101 }, 105, []],
    ['then cancels the pod (its preStop hold ends)', { inService: false, drainedAt: 101 }, 106, ['cancel 2']],
  ])('%s', (_name, o, time, expected) => {
    expect(writes(decidePeaSet(set, evicted(o), at(time)))).toEqual(expected);
  });

  it('counts the member as not Ready meanwhile, so no other member stops for an update', () => {
    const s = peaSet({ template: { spec: { image: 'img:2' } } });
    const members = [...old(s, 0, 1), ...evicted({ inService: false, listed: true }).slice(2)];
    members[2]!.pea.metadata.labels!['peapods.io/revision'] = 'old';
    const d = decidePeaSet(s, members, at(101));
    expect(d.status.readyReplicas).toBe(2);
    expect(writes(d).filter((w) => w.startsWith('-'))).toEqual(['-2']);
  });
});

describe('decidePeaSet: Surge (maxSurge 1, maxUnavailable 0)', () => {
  const set = peaSet();
  // Each step: the members as they stand, and what the pass does.
  it.each<[string, MemberView[], string[]]>([
    ['a template change starts a stand-in above replicas', old(set, 0, 1, 2), ['+3']],
    ['no old member drains before the stand-in is Ready', [...old(set, 0, 1, 2), member(set, 3)], []],
    [
      'the stand-in is Ready: the highest old member drains',
      [...old(set, 0, 1, 2), ...ready(set, 3)],
      ['-2'],
    ],
    [
      "the drained ordinal's successor starts once the old member is gone",
      [...old(set, 0, 1), ...ready(set, 3)],
      ['+2'],
    ],
    ['then the next old member drains', [...old(set, 0, 1), ...ready(set, 2, 3)], ['-1']],
    ['the last successor starts', [...ready(set, 1, 2, 3)], ['+0']],
    ['the stand-in stays until ordinal 0 is Ready', [...ready(set, 1, 2, 3), member(set, 0)], []],
    ['then the stand-in drains', ready(set, 0, 1, 2, 3), ['-3']],
  ])('%s', (_name, members, expected) => {
    const d = decidePeaSet(set, members, at(10));
    expect(writes(d)).toEqual(expected);
    // Never more than replicas + maxSurge members, never fewer available than replicas − maxUnavailable.
    const created = expected.filter((w) => w.startsWith('+')).length;
    expect(members.length + created).toBeLessThanOrEqual(3 + 1);
  });

  it('with maxSurge 2 starts two stand-ins at once', () => {
    const s = peaSet({ replicas: 5, updateStrategy: { type: 'Surge', maxSurge: 2 } });
    expect(writes(decidePeaSet(s, old(s, 0, 1, 2, 3, 4), at(10)))).toEqual(['+5', '+6']);
  });

  it('with maxUnavailable 1 drains one old member at once while the stand-in starts', () => {
    const s = peaSet({ updateStrategy: { type: 'Surge', maxSurge: 1, maxUnavailable: 1 } });
    expect(writes(decidePeaSet(s, old(s, 0, 1, 2), at(10)))).toEqual(['-2']);
  });
});

describe('decidePeaSet: Replace (maxUnavailable 1)', () => {
  const set = peaSet({ updateStrategy: { type: 'Replace' } });
  it.each<[string, MemberView[], string[]]>([
    ['drains the highest old member first, starting nothing extra', old(set, 0, 1, 2), ['-2']],
    [
      'waits while it drains',
      [
        ...old(set, 0, 1),
        member(set, 2, { readyAt: 0, old: true, deletedAt: 5, drainedAt: 6, inService: false }),
      ],
      [],
    ],
    ['starts its successor in the same ordinal once it is gone', old(set, 0, 1), ['+2']],
    ['the next drains only once the successor is available', [...old(set, 0, 1), member(set, 2)], []],
    ['then the next', [...old(set, 0, 1), ...ready(set, 2)], ['-1']],
  ])('%s', (_name, members, expected) => {
    expect(writes(decidePeaSet(set, members, at(10)))).toEqual(expected);
  });

  it('resolves its bounds: no surge, one unavailable', () => {
    expect(bounds(set)).toEqual({ surge: 0, unavailable: 1 });
    expect(bounds(peaSet())).toEqual({ surge: 1, unavailable: 0 });
    expect(bounds(peaSet({ updateStrategy: { maxSurge: 0, maxUnavailable: 0 } }))).toEqual({
      surge: 0,
      unavailable: 1,
    });
  });
});

describe('decidePeaSet: members that ended, and minReadySeconds', () => {
  const set = peaSet();
  it('replaces a member whose runtime ended for good, after a pause for kubectl describe', () => {
    const failed = (finishedAt: number) => [
      ...ready(set, 0, 1),
      member(set, 2, { phase: 'Failed', finishedAt }),
    ];
    expect(writes(decidePeaSet(set, failed(5), at(10)))).toEqual([]);
    expect(writes(decidePeaSet(set, failed(0), at(10)))).toEqual(['-2']);
  });

  it('counts a member as available only after minReadySeconds, and wakes then', () => {
    const s = peaSet({ minReadySeconds: 30 });
    const d = decidePeaSet(
      s,
      [member(s, 0, { readyAt: 0 }), member(s, 1, { readyAt: 5 }), member(s, 2)],
      at(20),
    );
    expect(d.status).toMatchObject({
      replicas: 3,
      readyReplicas: 2,
      availableReplicas: 0,
      updatedReplicas: 3,
    });
    expect(d.requeueAfterMs).toBe(10_000);
  });
});

describe('decidePeaSet: status and conditions', () => {
  const set = peaSet();
  it('reports counts, the revision and the selector for /scale', () => {
    const d = decidePeaSet(set, [...ready(set, 0, 1), member(set, 2, { readyAt: 0, old: true })], at(10));
    expect(d.status).toMatchObject({
      observedGeneration: 1,
      replicas: 3,
      readyReplicas: 3,
      availableReplicas: 3,
      updatedReplicas: 2,
      updateRevision: revisionOf(set),
      selector: 'peapods.io/peaset=web',
    });
    expect(condition(d, 'Available')).toMatchObject({ status: 'True', reason: 'MinimumReplicasAvailable' });
    expect(condition(d, 'Progressing')).toMatchObject({ status: 'True', reason: 'Progressing' });
  });

  it('says RolloutComplete once every member is updated and available', () => {
    const d = decidePeaSet(set, ready(set, 0, 1, 2), at(10));
    expect(condition(d, 'Progressing')).toMatchObject({ status: 'True', reason: 'RolloutComplete' });
  });

  it('turns Progressing False with ProgressDeadlineExceeded when nothing moved for progressDeadlineSeconds', () => {
    const s = peaSet({ progressDeadlineSeconds: 60 });
    const members = [...ready(s, 0, 1), member(s, 2)];
    const first = decidePeaSet(s, members, at(0));
    const stuckSet = { ...s, status: { ...first.status } };
    const later = decidePeaSet(stuckSet, members, at(61));
    expect(condition(later, 'Progressing')).toMatchObject({
      status: 'False',
      reason: 'ProgressDeadlineExceeded',
    });
    expect(later.events.map((e) => e.reason)).toEqual(['ProgressDeadlineExceeded']);
    // Said once: the next pass finds it already said.
    const again = decidePeaSet({ ...s, status: later.status }, members, at(70));
    expect(again.events).toEqual([]);
    expect(condition(decidePeaSet(stuckSet, members, at(30)), 'Progressing')?.status).toBe('True');
  });

  it('turns Available False when too few members are available', () => {
    const d = decidePeaSet(set, [member(set, 0, { readyAt: 0 }), member(set, 1), member(set, 2)], at(10));
    expect(condition(d, 'Available')).toMatchObject({
      status: 'False',
      reason: 'MinimumReplicasUnavailable',
    });
  });

  it('ignores a garbled status and Peas that are not its members', () => {
    const garbled = { ...set, status: { replicas: 'three', conditions: 'no' } as never };
    const stranger = member(set, 0, { readyAt: 0 });
    delete stranger.pea.metadata.labels?.['peapods.io/ordinal'];
    const d = decidePeaSet(garbled, [stranger], at(10));
    expect(writes(d)).toEqual(['+0', '+1', '+2']);
  });
});

describe('a member Pea', () => {
  it('is NAME-ORDINAL, owned by the PeaSet, held by its finalizer, always restarting, in its Service', () => {
    const set = peaSet({ template: { metadata: { labels: { app: 'web' } }, spec: { image: 'img:1' } } });
    const m: Pea = buildMember(set, 4, 'rev');
    expect(m.metadata).toMatchObject({
      name: 'web-4',
      labels: {
        app: 'web',
        'peapods.io/peaset': 'web',
        'peapods.io/ordinal': '4',
        'peapods.io/revision': 'rev',
      },
      finalizers: ['peapods.io/drain'],
      ownerReferences: [{ kind: 'PeaSet', name: 'web', uid: 'set-uid', controller: true }],
    });
    expect(m.spec.restartPolicy).toBe('Always');
    expect(m.spec.pod?.labels).toEqual({ 'peapods.io/peaset': 'web', [LABEL_SERVING]: 'true' });
    expect(m.spec.env).toEqual([
      { name: ENV.name, value: 'web' },
      { name: ENV.index, value: '4' },
      { name: ENV.replicas, value: '3' },
    ]);
  });

  it('changes revision with the template only', () => {
    const a = peaSet();
    expect(revisionOf(peaSet({ replicas: 9, drainSeconds: 1 }))).toBe(revisionOf(a));
    expect(revisionOf(peaSet({ template: { spec: { image: 'img:2' } } }))).not.toBe(revisionOf(a));
  });
});

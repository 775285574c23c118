// Two operators with --leader-elect against one API server: only the Lease holder acts, and
// when it dies the other takes over within the lease duration and finishes the work.
import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { apiSuite } from '../harness/suites.js';
import { until, type Proc } from '../helpers/processes.js';

const s = apiSuite('leader');

const leads = (p: Proc): boolean => p.logLines().some((l) => l.msg === 'became leader');
const created = (p: Proc): number => p.logLines().filter((l) => l.msg === 'creating pod').length;

describe('leader election', () => {
  it('lets only the leader act, and fails over when it is killed', async () => {
    const flags = ['--leader-elect', '--lease-duration-seconds', '3'];
    const a = s.cluster.startOperator(flags);
    const b = s.cluster.startOperator(flags);
    await until('a leader', () => leads(a) || leads(b));
    const [leader, standby] = leads(a) ? [a, b] : [b, a];

    await s.cluster.createPea('first');
    await s.cluster.podOf('first');
    await s.cluster.peaUntil('first', 'Starting', (p) => p.status?.phase === 'Starting');
    expect(created(leader)).toBeGreaterThan(0);
    expect(created(standby)).toBe(0);
    expect(leads(standby)).toBe(false);

    const lease = await s.api.admin
      .makeApiClient(k8s.CoordinationV1Api)
      .readNamespacedLease({ namespace: 'peapods-system', name: 'peapods-operator' });
    const holder = lease.spec?.holderIdentity;
    expect(holder).toBeTruthy();

    leader.child.kill('SIGKILL');
    await leader.exited;
    await s.cluster.createPea('second');
    await until('the standby to take over', () => leads(standby), 15_000);
    await s.cluster.peaUntil('second', 'Starting', (p) => p.status?.phase === 'Starting', 15_000);
    expect(await s.cluster.podsOf('second')).toHaveLength(1);
    expect(await s.cluster.podsOf('first')).toHaveLength(1);
    standby.child.kill('SIGTERM');
    expect(await standby.exited).toBe(0);
    const released = await s.api.admin
      .makeApiClient(k8s.CoordinationV1Api)
      .readNamespacedLease({ namespace: 'peapods-system', name: 'peapods-operator' });
    expect(released.spec?.holderIdentity ?? '').toBe(''); // a clean stop hands the Lease back
  });
});

// Two operators with --leader-elect against one API server: only the Lease holder acts, and
// when it dies the other takes over within the lease duration and finishes the work.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { startApiServer, type ApiServer } from '../harness/apiserver.js';
import { TestCluster } from '../harness/cluster.js';
import { killAll, until, type Proc } from '../helpers/processes.js';

let api: ApiServer;
let cluster: TestCluster;

beforeAll(async () => {
  api = await startApiServer();
  cluster = new TestCluster(api, 'leader');
  await cluster.createNamespace();
}, 120_000);

afterAll(async () => {
  killAll();
  await api?.stop();
}, 60_000);

const leads = (p: Proc): boolean => p.logLines().some((l) => l.msg === 'became leader');
const created = (p: Proc): number => p.logLines().filter((l) => l.msg === 'creating pod').length;

describe('leader election', () => {
  it('lets only the leader act, and fails over when it is killed', async () => {
    const flags = ['--leader-elect', '--lease-duration-seconds', '3'];
    const a = cluster.startOperator(flags);
    const b = cluster.startOperator(flags);
    await until('a leader', () => leads(a) || leads(b));
    const [leader, standby] = leads(a) ? [a, b] : [b, a];

    await cluster.createPea('first');
    await cluster.podOf('first');
    await cluster.peaUntil('first', 'Starting', (p) => p.status?.phase === 'Starting');
    expect(created(leader)).toBeGreaterThan(0);
    expect(created(standby)).toBe(0);
    expect(leads(standby)).toBe(false);

    const lease = await api.admin.makeApiClient(k8s.CoordinationV1Api).readNamespacedLease({ namespace: 'peapods-system', name: 'peapods-operator' });
    const holder = lease.spec?.holderIdentity;
    expect(holder).toBeTruthy();

    leader.child.kill('SIGKILL');
    await leader.exited;
    await cluster.createPea('second');
    await until('the standby to take over', () => leads(standby), 15_000);
    await cluster.peaUntil('second', 'Starting', (p) => p.status?.phase === 'Starting', 15_000);
    expect(await cluster.podsOf('second')).toHaveLength(1);
    expect(await cluster.podsOf('first')).toHaveLength(1);
    standby.child.kill('SIGTERM');
    expect(await standby.exited).toBe(0);
    const released = await api.admin.makeApiClient(k8s.CoordinationV1Api).readNamespacedLease({ namespace: 'peapods-system', name: 'peapods-operator' });
    expect(released.spec?.holderIdentity ?? '').toBe(''); // a clean stop hands the Lease back
  });
});

// The set-up the integration and chaos test files share: one real etcd + kube-apiserver per
// file, a namespace, and (for most) the operator as a process with the RBAC it ships; all
// of it stopped after the file, with every process the file started. Each function
// registers jest's beforeAll/afterAll, so call it at the top level of a test file; the
// object it returns is filled in by the time the file's tests run.
import { afterAll, afterEach, beforeAll } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { startApiServer, type ApiServer } from './apiserver.js';
import { CuttableProxy, Recorder } from './chaos.js';
import { TestCluster } from './cluster.js';
import { killAll, type Proc } from '../helpers/processes.js';

const START_MS = 120_000;
const STOP_MS = 60_000;

export interface ApiSuite {
  api: ApiServer;
  cluster: TestCluster;
}

export interface OperatorSuite extends ApiSuite {
  /** Reassign it when a test restarts the operator: afterAll stops the current one. */
  operator: Proc;
}

/**
 * A real API server and the namespace `namespace` (with `labels`, e.g. Pod Security ones).
 * `stop` runs first in afterAll, while the API server is still up.
 */
export function apiSuite(namespace: string, labels?: Record<string, string>, stop?: () => unknown): ApiSuite {
  const s = {} as ApiSuite;
  beforeAll(async () => {
    s.api = await startApiServer();
    s.cluster = new TestCluster(s.api, namespace);
    await s.cluster.core.createNamespace({ body: { metadata: { name: namespace, labels } } });
  }, START_MS);
  afterAll(async () => {
    await stop?.();
    killAll();
    await s.api?.stop();
  }, STOP_MS);
  return s;
}

/**
 * apiSuite plus the operator, started with `args()` (computed in beforeAll, so it may pick
 * ports or write files). Every test fails if the operator has exited by its end: the
 * operator must never crash, whatever a test sends it.
 */
export function operatorSuite(
  namespace: string,
  o: { labels?: Record<string, string>; args?: () => string[] | Promise<string[]> } = {},
): OperatorSuite {
  const s = apiSuite(namespace, o.labels, async () => {
    s.operator?.child.kill('SIGTERM');
    await s.operator?.exited;
  }) as OperatorSuite;
  beforeAll(async () => {
    s.operator = s.cluster.startOperator((await o.args?.()) ?? []);
  }, START_MS);
  afterEach(() => {
    if (s.operator.child.exitCode !== null)
      throw new Error(`the operator exited:\n${s.operator.output().slice(-3000)}`);
  });
  return s;
}

export interface ChaosSuite {
  api: ApiServer;
  /** Sees every Pea and pod change in the namespace, from before the first one. */
  recorder: Recorder;
  /** Only with `proxy: true`: the way to the API server whose connections a test can cut. */
  proxy: CuttableProxy;
}

/**
 * A chaos file's API server, namespace and recorder (and proxy). `stop` kills the file's
 * operators before the recorder's API server goes away.
 */
export function chaosSuite(namespace: string, o: { proxy?: boolean; stop: () => unknown }): ChaosSuite {
  const s = {} as ChaosSuite;
  beforeAll(async () => {
    s.api = await startApiServer();
    await s.api.admin
      .makeApiClient(k8s.CoreV1Api)
      .createNamespace({ body: { metadata: { name: namespace } } });
    s.recorder = new Recorder(s.api.admin, namespace);
    await s.recorder.start();
    if (!o.proxy) return;
    const url = new URL(s.api.url);
    s.proxy = new CuttableProxy({ host: url.hostname, port: Number(url.port) });
    await s.proxy.start();
  }, START_MS);
  afterAll(async () => {
    s.recorder?.stop();
    await o.stop();
    await s.proxy?.stop();
    killAll();
    await s.api?.stop();
  }, STOP_MS);
  return s;
}

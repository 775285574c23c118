// The end-to-end suite (test/e2e), run by `make e2e` against the cluster in KUBECONFIG.
// One worker: the tests share one operator and one small node; each test waits on real
// pods, so the timeout is generous.
import base from './jest.config.js';

// Files that need Services which route (kube-proxy): the local cluster has none, so they run
// on kind only. docs/kind.md lists them.
const SERVICE_ROUTING = ['/test/e2e/peaset\\.test\\.ts$'];
// Not yet in `make e2e` (so not in CI): the PeaSet traffic test, which fails on kind today (an
// eviction of a member's pod is not granted within 120 s; issue 11 stays open on it). It runs
// on its own with `make e2e-peaset CLUSTER=kind`, which sets PEAPODS_E2E_PEASET=1.
const NOT_YET = process.env.PEAPODS_E2E_PEASET === '1' ? [] : SERVICE_ROUTING;

/** @type {import('jest').Config} */
export default {
  ...base,
  roots: ['<rootDir>/test/e2e'],
  testPathIgnorePatterns: process.env.CLUSTER === 'kind' ? NOT_YET : SERVICE_ROUTING,
  globalSetup: '<rootDir>/test/e2e/global-setup.mjs',
  globalTeardown: '<rootDir>/test/e2e/global-teardown.mjs',
  maxWorkers: 1,
  testTimeout: 180000,
};

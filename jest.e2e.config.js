// The end-to-end suite (test/e2e), run by `make e2e` against the cluster in KUBECONFIG.
// One worker: the tests share one operator and one small node; each test waits on real
// pods, so the timeout is generous.
import base from './jest.config.js';

// Files that need Services which route (kube-proxy): the local cluster has none, so they run
// on kind only. docs/kind.md lists them.
const SERVICE_ROUTING = ['/test/e2e/peaset\\.test\\.ts$'];

/** @type {import('jest').Config} */
export default {
  ...base,
  roots: ['<rootDir>/test/e2e'],
  testPathIgnorePatterns: process.env.CLUSTER === 'kind' ? [] : SERVICE_ROUTING,
  globalSetup: '<rootDir>/test/e2e/global-setup.mjs',
  globalTeardown: '<rootDir>/test/e2e/global-teardown.mjs',
  maxWorkers: 1,
  testTimeout: 180000,
};

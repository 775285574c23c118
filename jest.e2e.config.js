// The end-to-end suite (test/e2e), run by `make e2e` against the cluster in KUBECONFIG.
// One worker: the tests share one operator and one small node; each test waits on real
// pods, so the timeout is generous.
import base from './jest.config.js';

/** @type {import('jest').Config} */
export default {
  ...base,
  roots: ['<rootDir>/test/e2e'],
  testPathIgnorePatterns: [],
  globalSetup: '<rootDir>/test/e2e/global-setup.mjs',
  globalTeardown: '<rootDir>/test/e2e/global-teardown.mjs',
  maxWorkers: 1,
  testTimeout: 180000,
};

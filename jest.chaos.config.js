// `make chaos`: the fault-injection suite (test/chaos) against a real API server, one file at
// a time (each starts its own etcd, kube-apiserver, operators and sidecars), with time for
// hundreds of Pea lifecycles per file. Its files end in .chaos.ts, not .test.ts, so that the
// plain jest run of `make test` (roots: test/) does not pick them up.
import base from './jest.config.js';

/** @type {import('jest').Config} */
export default {
  ...base,
  roots: ['<rootDir>/test/chaos'],
  testMatch: ['**/*.chaos.ts'],
  testPathIgnorePatterns: [],
  maxWorkers: 1,
  testTimeout: 600_000,
};

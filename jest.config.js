// ESM all the way: @kubernetes/client-node 2.x is ESM-only, so tests run under
// `node --experimental-vm-modules` and @swc/jest strips types without type-checking
// (`tsc --noEmit` does that once in `make test`).
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // test/e2e needs a whole cluster: `make e2e` runs it with jest.e2e.config.js.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/e2e/'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2023' },
        module: { type: 'es6' },
      },
    ],
  },
  // Tests wait for real processes; a busy machine must make them slower, never fail them.
  testTimeout: 90000,
  // Marks every process the tests start, and kills any left at the end (see test/global/strays.mjs).
  globalSetup: '<rootDir>/test/global/setup.mjs',
  globalTeardown: '<rootDir>/test/global/teardown.mjs',
};

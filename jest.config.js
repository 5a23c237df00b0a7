// Test file names say what a test needs (see README "Tests"):
//   *.test.ts        pure, no I/O
//   *.db.test.ts     the real MariaDB/MySQL, PostgreSQL and Redis
//   *.sink.test.ts   the sink stores (MongoDB-protocol, Neo4j, Elasticsearch servers: the live-store
//                    harness, containers or TEST_*_URL); the reports' one also opens Chromium
//   *.browser.test.ts headless Chromium (Debian package) against a running portal
// Transpile only: `npm test` type-checks the whole tree with tsc first.
const transform = { '^.+\\.tsx?$': ['ts-jest', { diagnostics: false }] };
const common = {
  transform,
  testEnvironment: 'node',
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  setupFiles: ['<rootDir>/test/support/setup-env.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};

/** @type {import('jest').Config} */
module.exports = {
  // Three test files at once on the 2-core machine: most of a file's time is waiting (servers
  // starting, stopped on purpose, timed outages, the daemon's schedule), not CPU. The whole suite
  // took 450 s twice with three workers (and the stores' C1 JIT) against 695 s with two (before
  // it); each file took about as long.
  maxWorkers: 3,
  testTimeout: 60_000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/**/test/**/*.test.ts'],
      testPathIgnorePatterns: [...common.testPathIgnorePatterns, '\\.(db|sink|browser)\\.test\\.ts$'],
    },
    { ...common, displayName: 'db', testMatch: ['<rootDir>/**/test/**/*.db.test.ts'] },
    { ...common, displayName: 'sink', testMatch: ['<rootDir>/**/test/**/*.sink.test.ts'] },
    { ...common, displayName: 'browser', testMatch: ['<rootDir>/**/test/**/*.browser.test.ts'] },
  ],
};

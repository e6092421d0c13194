import { defineConfig } from 'vitest/config';

// Suites that start servers or mounts take seconds; keep them in separate forks so a crash in
// one (a FUSE mount gone wrong) cannot take the others down.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 180_000,
    maxWorkers: 2,
    // One Ceph RGW cluster for the whole run (~15-20 s to start); FLEXFS_RGW_PER_FILE=1 turns it off.
    globalSetup: ['test/harness/rgw-global.ts'],
    reporters: ['default', './test/harness/summary-reporter.ts'],
  },
});

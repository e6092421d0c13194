import { defineConfig } from 'vitest/config';

/**
 * Three tiers (vitest projects); `npm test` runs them all, `npm run test:unit` only the first.
 *
 * - unit: no Ceph RGW, no FUSE, no redis, no daemons or CLI children — code in this process
 *   against temp dirs, file:// stores, the sqlite engine and in-process servers on loopback.
 *   Runs in well under a minute.
 * - integration: real daemons and CLIs as child processes, a real redis-server, the Ceph RGW.
 * - e2e: a real FUSE mount (the kernel in the loop).
 *
 * Only integration and e2e start the run's Ceph RGW (test/harness/rgw-global.ts; both share one
 * cluster). A new test file lands in integration unless it is listed under unit or e2e.
 */
const UNIT = [
  'src/**/*.test.ts',
  'test/cache/**/*.test.ts',
  'test/meta/sqlite.test.ts',
  'test/meta-server/protocol.test.ts',
  'test/proxy/group-local.test.ts',
  'test/proxy/group-conformance.test.ts',
  'test/store/decorators.test.ts',
  'test/store/file.test.ts',
  'test/store/keys.test.ts',
  'test/store/s3-credentials.test.ts',
  'test/store/s3-errors.test.ts',
  'test/vfs/**/*.test.ts',
];
const E2E = [
  'test/bench/**/*.test.ts',
  'test/fuse/**/*.test.ts',
  'test/mount/**/*.test.ts',
  'test/mount-cli/**/*.test.ts',
  'test/ops/fstab-status.test.ts',
  'test/ops/install-standalone.test.ts',
  'test/ops/readme-flows.test.ts',
  'test/ops/status-remote.test.ts',
  'test/proxy/mount-proxy.test.ts',
];
const RGW_SETUP = ['test/harness/rgw-global.ts'];

export default defineConfig({
  test: {
    // Suites that start servers or mounts take seconds; keep them in separate forks so a crash
    // in one (a FUSE mount gone wrong) cannot take the others down.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 180_000,
    maxWorkers: 2,
    reporters: ['default', './test/harness/summary-reporter.ts'],
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT } },
      {
        extends: true,
        test: { name: 'integration', include: ['test/**/*.test.ts'], exclude: [...UNIT, ...E2E], globalSetup: RGW_SETUP },
      },
      { extends: true, test: { name: 'e2e', include: E2E, globalSetup: RGW_SETUP } },
    ],
  },
});

/**
 * vitest globalSetup: one Ceph RGW cluster for the whole run, handed to test files through
 * `provide('flexfsRgw', …)`; `sharedRgw()` picks it up with `inject`. Enable with
 *   globalSetup: ['test/harness/rgw-global.ts']
 * in vitest.config.ts. Without it each file that calls sharedRgw() starts its own cluster.
 * FLEXFS_RGW_PER_FILE=1 skips the run-wide cluster (handy when running one unrelated file).
 */
import type { TestProject } from 'vitest/node';
import { startRgw, type RgwInfo } from './rgw.js';

declare module 'vitest' {
  export interface ProvidedContext {
    flexfsRgw: RgwInfo;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.FLEXFS_RGW_PER_FILE === '1') return async () => {};
  const rgw = await startRgw();
  const info: RgwInfo = {
    endpoint: rgw.endpoint, region: rgw.region, accessKey: rgw.accessKey, secretKey: rgw.secretKey, bucket: rgw.bucket, roleArn: rgw.roleArn,
  };
  project.provide('flexfsRgw', info);
  return () => rgw.stop();
}

/**
 * vitest globalSetup: one Ceph RGW cluster for the whole run, handed to test files through
 * `provide('flexfsRgw', …)`; `sharedRgw()` picks it up with `inject`. vitest.config.ts names it
 * as the globalSetup of the tiers that need an RGW (integration, e2e); those projects share one
 * cluster (started by the first, stopped after the last). Without it each file that calls
 * sharedRgw() starts its own cluster. FLEXFS_RGW_PER_FILE=1 skips the run-wide cluster (handy
 * when running one unrelated file).
 */
import type { TestProject } from 'vitest/node';
import { startRgw, type Rgw, type RgwInfo } from './rgw.js';

declare module 'vitest' {
  export interface ProvidedContext {
    flexfsRgw: RgwInfo;
  }
}

/**
 * The run's cluster and how many projects use it. Kept on globalThis: each project may load
 * this module afresh, but all projects' global setups run in the one vitest main process.
 */
interface Shared { rgw: Promise<Rgw>; users: number }
const KEY = Symbol.for('flexfs.rgw-global');
const registry = globalThis as unknown as { [KEY]?: Shared };

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.FLEXFS_RGW_PER_FILE === '1') return async () => {};
  const shared = (registry[KEY] ??= { rgw: startRgw(), users: 0 });
  shared.users++;
  let rgw: Rgw;
  try {
    rgw = await shared.rgw;
  } catch (e) {
    if (--shared.users === 0) delete registry[KEY];
    throw e;
  }
  const info: RgwInfo = {
    endpoint: rgw.endpoint, region: rgw.region, accessKey: rgw.accessKey, secretKey: rgw.secretKey, bucket: rgw.bucket, roleArn: rgw.roleArn,
  };
  project.provide('flexfsRgw', info);
  return async () => {
    if (--shared.users > 0) return;
    delete registry[KEY];
    await rgw.stop();
  };
}

/**
 * The only folder that talks to the kernel: flexfs's own FUSE layer over libfuse3's low-level
 * API (lowlevel/, native/), the request table over the inode-level core (kernel-ops.ts) and the
 * mount (kernel-mount.ts). docs/FUSE.md.
 */
export { mountCore, type CoreMount, type CoreMountOptions } from './kernel-mount.js';
export { makeKernelOps } from './kernel-ops.js';
export { findFuseMount, readMounts, parseMountinfo } from './mountinfo.js';

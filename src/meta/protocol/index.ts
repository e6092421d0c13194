export * from './version.js';
export * from './frames.js';
export * from './ops.js';
export * from './changes.js';

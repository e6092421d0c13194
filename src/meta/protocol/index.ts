export * from './version.js';
export * from './frames.js';
export * from './ops.js';

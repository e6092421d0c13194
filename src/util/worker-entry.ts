import type { WorkerOptions } from 'node:worker_threads';

/**
 * How to start a worker thread whose code is the module `name` next to `here` (pass
 * `import.meta.url`): the compiled `.js` file, or, when running from TypeScript sources (vitest),
 * the `.ts` file through module hooks that transpile it (ts-worker-loader.mjs), since Node 20
 * cannot load .ts itself. Used by the codec pool and the sqlite worker.
 */
export function workerEntry(here: string, name: string): { filename: string | URL; options: WorkerOptions } {
  if (!here.endsWith('.ts')) return { filename: new URL(`./${name}.js`, here), options: {} };
  const loader = new URL('./ts-worker-loader.mjs', import.meta.url).href;
  const entry = new URL(`./${name}.ts`, here).href;
  const code = `import('node:module').then((m) => { m.register(${JSON.stringify(loader)}); return import(${JSON.stringify(entry)}); });`;
  return { filename: code, options: { eval: true } };
}

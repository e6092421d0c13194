// Module hooks used ONLY when a worker thread runs from TypeScript sources (vitest): Node 20 cannot
// strip types, so the worker (codec pool, sqlite engine; see worker-entry.ts) registers these hooks
// to transpile src/**/*.ts with the installed typescript compiler (a devDependency). Compiled
// builds (dist/) never load this file.
import { readFile, access } from 'node:fs/promises';
import { createRequire } from 'node:module';

const ts = createRequire(import.meta.url)('typescript');

export async function resolve(specifier, context, nextResolve) {
  const parent = context.parentURL;
  if (parent && parent.startsWith('file:') && parent.endsWith('.ts') && /^\.\.?\//.test(specifier) && specifier.endsWith('.js')) {
    // NodeNext sources import './x.js'; in the source tree that file is './x.ts'.
    const tsUrl = new URL(specifier.slice(0, -3) + '.ts', parent);
    try {
      await access(tsUrl);
      return { url: tsUrl.href, format: 'module', shortCircuit: true };
    } catch {
      // no .ts sibling: fall through to normal resolution
    }
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (url.startsWith('file:') && url.endsWith('.ts')) {
    const source = await readFile(new URL(url), 'utf8');
    const out = ts.transpileModule(source, {
      fileName: url,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false, verbatimModuleSyntax: false },
    });
    return { format: 'module', source: out.outputText, shortCircuit: true };
  }
  return nextLoad(url, context);
}

import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { META_SERVER_DEFAULTS } from './defaults.js';

/** The docs and --help name the defaults table's metadata folder, and no other default. */
const repo = fileURLToPath(new URL('../..', import.meta.url));
const read = (f: string) => readFile(`${repo}/${f}`, 'utf8');
const home = `~/.flexfs/${META_SERVER_DEFAULTS.dbSubfolder}`;
const packaged = `/var/lib/flexfs/${META_SERVER_DEFAULTS.dbSubfolder}`;

describe('the metadata folder default', () => {
  it('README, METADATA.md and OPERATIONS.md name it, and every --dbFolder path they show is it', async () => {
    for (const doc of ['README.md', 'docs/METADATA.md', 'docs/OPERATIONS.md']) {
      const text = await read(doc);
      expect(text, doc).toContain(home);
      for (const m of text.matchAll(/--dbFolder[ =]([~/][^\s`'"),]*)/g)) expect([home, packaged], `${doc}: ${m[0]}`).toContain(m[1]);
      expect(text, doc).not.toMatch(/\/var\/lib\/flexfs-meta\b|\/var\/lib\/flexfs\/meta(?![/\w])/);
    }
    expect(await read('docs/OPERATIONS.md')).toContain(packaged);
  });

  it('start, gc, fsck and flexfs status --help say it', async () => {
    for (const f of ['src/cli/meta/start.ts', 'src/cli/meta/gc.ts', 'src/cli/meta/fsck.ts', 'src/cli/flexfs/status.ts']) {
      const line = (await read(f)).split('\n').find((l) => l.includes("'--dbFolder <dir>'"));
      expect(line, f).toContain(`(default ${home})`);
    }
  });
});

// Test helper (sync.test.ts): the sync calls node:fs/promises does not make directly, on a mount.
//   fsyncdir DIR         open DIR, fsync its descriptor (FUSE fsyncdir), print "OK" or the errno
//   fdatasync FILE TEXT  open FILE for writing, write TEXT, fdatasync, print "synced"; stay open
//   write FILE TEXT      the same without any sync (a control), print "written"; stay open
// The file-writing modes keep the descriptor open (no close, no flush) until the process is killed.
import { closeSync, fdatasyncSync, fsyncSync, openSync, writeSync } from 'node:fs';

const [op, path, text] = process.argv.slice(2);
try {
  if (op === 'fsyncdir') {
    const fd = openSync(path, 'r');
    fsyncSync(fd);
    closeSync(fd);
    console.log('OK');
    process.exit(0);
  }
  const fd = openSync(path, 'w');
  writeSync(fd, Buffer.from(text));
  if (op === 'fdatasync') fdatasyncSync(fd);
  console.log(op === 'fdatasync' ? 'synced' : 'written');
  setInterval(() => fd, 1 << 30); // keep the process (and the descriptor) alive
} catch (e) {
  console.log(e.code ?? String(e));
  process.exit(1);
}

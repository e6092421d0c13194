// Test helper (integrity.test.ts): open argv[2] for writing, write the bytes of argv[3] without
// closing or fsyncing, print "written", then keep the file open until killed.
import { open, readFile } from 'node:fs/promises';

const [target, source] = process.argv.slice(2);
const data = await readFile(source);
const fh = await open(target, 'w');
await fh.write(data, 0, data.length, 0);
console.log('written');
setInterval(() => fh.fd, 1 << 30); // keep the process (and the descriptor) alive

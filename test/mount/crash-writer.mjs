// Test helper for crash.test.ts (plain JS: runs in its own process, never in the mount's).
//
//   node crash-writer.mjs write <dir>        append records, overwrite a file in generations, make
//                                            directories and renames; print one ACK line after each
//                                            acknowledged fsync / directory operation; run until killed
//   node crash-writer.mjs verify <dir> <acks-json>
//                                            check what is on the mount against the deterministic
//                                            streams and the acks; print {"problems":[...]} as JSON
//
// Everything written is a pure function of (file, position) or (generation, page), so the verifier
// can tell a torn or stale block (wrong bytes or zeros) from data that was simply not acknowledged.
import { mkdir, open, readdir, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';

const LOGS = 3;
const OW_SIZE = 9 * 2 ** 20; // three slots of the default 4 MiB block size (the last one partial)
const PAGE = 4096;

/** Bytes [from, from+len) of log file f's stream (a counter-based pattern, cheap to regenerate). */
function logBytes(f, from, len) {
  const out = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) {
    const p = from + i;
    const w = Math.floor(p / 4);
    out[i] = ((w * 2654435761 + f * 40503) >>> ((p % 4) * 8)) & 0xff;
  }
  return out;
}

/** Size of record r of log f: 20 KiB … 340 KiB, so records straddle block boundaries. */
function recordSize(f, r) {
  return 20_480 + ((r * 7919 + f * 104729) % 327_680);
}

/** Page `page` of generation `g` of the overwrite file: 8-byte header (g, page) then a fill byte. */
function owPage(g, page) {
  const b = Buffer.alloc(PAGE, (g * 31 + page) & 0xff);
  b.writeUInt32LE(g, 0);
  b.writeUInt32LE(page, 4);
  return b;
}

async function write(dir) {
  const logs = [];
  for (let f = 0; f < LOGS; f++) logs.push({ fh: await open(join(dir, `log-${f}`), 'w'), size: 0, r: 0 });
  const ow = await open(join(dir, 'ow'), 'w');
  const pages = OW_SIZE / PAGE;
  for (let round = 0; ; round++) {
    for (const [f, l] of logs.entries()) {
      const n = recordSize(f, l.r++);
      await l.fh.write(logBytes(f, l.size, n), 0, n, l.size);
      l.size += n;
    }
    if (round % 2 === 1) {
      for (const [f, l] of logs.entries()) {
        await l.fh.sync();
        console.log(`ACK log ${f} ${l.size}`);
      }
    }
    if (round % 4 === 0) {
      const g = round / 4 + 1;
      const buf = Buffer.concat(Array.from({ length: pages }, (_, p) => owPage(g, p)));
      await ow.write(buf, 0, buf.length, 0);
      await ow.sync();
      console.log(`ACK ow ${g}`);
    }
    if (round % 3 === 0) {
      const n = round / 3;
      await mkdir(join(dir, `dir-${n}`));
      const t = await open(join(dir, `tmp-${n}`), 'w');
      await t.writeFile(`renamed file ${n}\n`);
      await t.sync();
      await t.close();
      await rename(join(dir, `tmp-${n}`), join(dir, `final-${n}`));
      console.log(`ACK dir ${n}`);
    }
  }
}

async function verify(dir, acks) {
  const problems = [];
  for (let f = 0; f < LOGS; f++) {
    const want = acks.log[f] ?? 0;
    const data = await readFile(join(dir, `log-${f}`)).catch((e) => { problems.push(`log-${f}: ${e.code}`); return Buffer.alloc(0); });
    if (data.length < want) problems.push(`log-${f}: ${data.length} bytes, but ${want} were fsync'd`);
    const expected = logBytes(f, 0, data.length);
    if (!data.equals(expected)) {
      let i = 0;
      while (data[i] === expected[i]) i++;
      problems.push(`log-${f}: wrong bytes from offset ${i} (size ${data.length}, fsync'd ${want})`);
    }
  }
  const ow = await readFile(join(dir, 'ow')).catch((e) => { problems.push(`ow: ${e.code}`); return Buffer.alloc(0); });
  if (acks.ow > 0) {
    if (ow.length !== OW_SIZE) problems.push(`ow: size ${ow.length}, want ${OW_SIZE}`);
    const gens = new Set();
    for (let p = 0; p * PAGE < ow.length; p++) {
      const g = ow.readUInt32LE(p * PAGE);
      if (!ow.subarray(p * PAGE, (p + 1) * PAGE).equals(owPage(g, p))) { problems.push(`ow: page ${p} is torn or foreign`); break; }
      gens.add(g);
    }
    const list = [...gens];
    // After a mount crash one commit is all or nothing; a writer killed mid-write on a live mount
    // (acks.allowMixed) legitimately leaves its last generation half written by the final close.
    if (list.length !== 1 && !acks.allowMixed) problems.push(`ow: a mix of generations ${list.join(',')} (one commit must be all or nothing)`);
    if (Math.min(...list) < acks.ow) problems.push(`ow: generation ${Math.min(...list)} but ${acks.ow} was fsync'd`);
  }
  const names = new Set(await readdir(dir));
  for (let n = 0; n <= acks.dir; n++) {
    if (acks.dir < 0) break;
    if (!names.has(`dir-${n}`) || !(await stat(join(dir, `dir-${n}`))).isDirectory()) problems.push(`dir-${n} missing`);
    const t = await readFile(join(dir, `final-${n}`), 'utf8').catch(() => undefined);
    if (t !== `renamed file ${n}\n`) problems.push(`final-${n}: ${t === undefined ? 'missing' : 'wrong content'}`);
    if (names.has(`tmp-${n}`)) problems.push(`tmp-${n} still exists after its rename was acknowledged`);
  }
  console.log(JSON.stringify({ problems }));
}

const [mode, dir, acksJson] = process.argv.slice(2);
if (mode === 'write') {
  // The first failure ends the run; its errno is the last line (the meta-restart test checks it).
  await write(dir).catch((e) => { console.log(`ERR ${e.code ?? e.message}`); process.exit(3); });
}
else if (mode === 'verify') await verify(dir, JSON.parse(acksJson));
else { console.error('usage: crash-writer.mjs write|verify <dir> [acks]'); process.exit(2); }

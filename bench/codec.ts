/**
 * Block codec throughput: MB/s (raw bytes) for encode and decode of 4 MiB blocks, text-like and
 * random data, plain and encrypted, inline (calling thread) and through the worker pool.
 * Run: npm run bench:codec  (tsc -p . && node dist/bench/codec.js [blocks-per-case])
 */
import { availableParallelism, cpus } from 'node:os';
import { createCodec, type BlockCodec } from '../src/codec/index.js';
import { randomData, textLike } from '../src/codec/testdata.js';
import { LZ4_BINDINGS, crossDecodes } from './lz4-bindings.js';

const BLOCK = 4 * 1024 * 1024;
const BLOCKS = Number(process.argv[2] ?? 24);
const IN_FLIGHT = 8;

async function timeAll(count: number, inFlight: number, job: (i: number) => Promise<unknown>): Promise<number> {
  const start = performance.now();
  let next = 0;
  const lanes = Array.from({ length: inFlight }, async () => {
    while (next < count) await job(next++);
  });
  await Promise.all(lanes);
  return (performance.now() - start) / 1000;
}

const mbps = (bytes: number, seconds: number): string => (bytes / 1e6 / seconds).toFixed(0);

async function main(): Promise<void> {
  const dataKey = Buffer.alloc(32, 7);
  const data = { 'text-like': textLike(BLOCK), random: randomData(BLOCK) };
  const rows: string[] = [];
  const workers = Math.min(2, availableParallelism());
  for (const [kind, raw] of Object.entries(data)) {
    for (const encrypted of [false, true]) {
      for (const mode of ['inline', 'pool'] as const) {
        const codec: BlockCodec = createCodec({ compression: 'lz4', dataKey: encrypted ? dataKey : undefined, workers: mode === 'pool' ? workers : 0 });
        try {
          const key = (i: number): string => `bench/blocks/00/1_${i}_${i}`;
          const frames: Buffer[] = [];
          // Warm-up: spawns workers, JITs the frame code.
          await timeAll(4, mode === 'pool' ? IN_FLIGHT : 1, (i) => codec.encode(key(i), raw));
          const inFlight = mode === 'pool' ? IN_FLIGHT : 1;
          const enc = await timeAll(BLOCKS, inFlight, async (i) => { frames[i] = await codec.encode(key(i), raw); });
          const dec = await timeAll(BLOCKS, inFlight, async (i) => {
            const back = await codec.decode(key(i), frames[i]);
            if (back.length !== raw.length) throw new Error('bench: decode length mismatch');
          });
          const ratio = (frames[0].length / raw.length).toFixed(3);
          rows.push(`| ${kind} | ${encrypted ? 'AES-256-GCM' : 'plain'} | ${mode === 'pool' ? `pool (${workers} workers, ${IN_FLIGHT} in flight)` : 'inline'} | ${ratio} | ${mbps(BLOCKS * BLOCK, enc)} | ${mbps(BLOCKS * BLOCK, dec)} |`);
        } finally {
          await codec.close();
        }
      }
    }
  }
  console.log(`flexfs codec benchmark: ${BLOCKS} blocks of 4 MiB per case, lz4, node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} x${availableParallelism()}`);
  console.log('');
  console.log('| data | encryption | where | frame/raw | encode MB/s | decode MB/s |');
  console.log('|---|---|---|---|---|---|');
  for (const row of rows) console.log(row);

  // The lz4 bindings side by side on the same blocks: raw lz4 block format, one thread, no frame.
  console.log('');
  console.log(`lz4 bindings: ${BLOCKS} blocks of 4 MiB per case, raw lz4 block format, calling thread`);
  console.log('');
  console.log('| binding | data | compressed/raw | compress MB/s | decompress MB/s | decodes the other\'s blocks |');
  console.log('|---|---|---|---|---|---|');
  for (const [kind, raw] of Object.entries(data)) {
    for (const binding of LZ4_BINDINGS) {
      const block = binding.compress(raw);
      for (let i = 0; i < 2; i++) binding.decompress(binding.compress(raw), raw.length); // warm-up
      const enc = await timeAll(BLOCKS, 1, async () => { binding.compress(raw); });
      const dec = await timeAll(BLOCKS, 1, async () => { binding.decompress(block, raw.length); });
      const others = LZ4_BINDINGS.filter((b) => b !== binding);
      const compatible = others.every((other) => crossDecodes(other, binding, raw));
      console.log(`| ${binding.name} | ${kind} | ${(block.length / raw.length).toFixed(3)} | ${mbps(BLOCKS * BLOCK, enc)} | ${mbps(BLOCKS * BLOCK, dec)} | ${compatible ? 'yes' : 'NO'} |`);
    }
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

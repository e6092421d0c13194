/** Deterministic test/bench data: text-like (compressible, ~2-3x with lz4) and random (incompressible). */
import { randomBytes } from 'node:crypto';

const WORDS = ('the quick brown fox jumps over lazy dog block frame metadata server volume inode ' +
  'directory cache proxy bucket object compress encrypt flush commit read write file system posix ' +
  'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt').split(' ');

export function textLike(size: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(size);
  let state = seed >>> 0 || 1;
  let at = 0;
  while (at < size) {
    // xorshift32: cheap, deterministic
    state ^= state << 13; state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5; state >>>= 0;
    const word = WORDS[state % WORDS.length] + ((state >>> 8) % 11 === 0 ? '.\n' : ' ');
    at += out.write(word, at, 'latin1');
  }
  return out;
}

export function randomData(size: number): Buffer {
  return randomBytes(size);
}

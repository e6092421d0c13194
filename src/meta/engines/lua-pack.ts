/**
 * Minimal msgpack encoder for the Lua script's argument. Redis's bundled cmsgpack does not accept
 * every type msgpackr emits (e.g. bin for Buffers), so this writes only what cmsgpack has always
 * understood: arrays, raw strings (bytes as-is, so Buffers pass unchanged), false and small
 * non-negative integers.
 */
export type LuaValue = string | Buffer | number | false | LuaValue[];

export function packForLua(v: LuaValue): Buffer {
  const parts: Buffer[] = [];
  write(v, parts);
  return Buffer.concat(parts);
}

function header(small: number, n: number, b16: number, b32: number, smallMax: number): Buffer {
  if (n <= smallMax) return Buffer.from([small | n]);
  if (n <= 0xffff) { const b = Buffer.alloc(3); b[0] = b16; b.writeUInt16BE(n, 1); return b; }
  const b = Buffer.alloc(5); b[0] = b32; b.writeUInt32BE(n, 1); return b;
}

function write(v: LuaValue, out: Buffer[]): void {
  if (v === false) { out.push(Buffer.from([0xc2])); return; }
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`packForLua: unsupported number ${v}`);
    if (v <= 127) out.push(Buffer.from([v]));
    else if (v <= 0xffff) { const b = Buffer.alloc(3); b[0] = 0xcd; b.writeUInt16BE(v, 1); out.push(b); }
    else { const b = Buffer.alloc(5); b[0] = 0xce; b.writeUInt32BE(v, 1); out.push(b); }
    return;
  }
  if (Array.isArray(v)) {
    out.push(header(0x90, v.length, 0xdc, 0xdd, 15));
    for (const x of v) write(x, out);
    return;
  }
  const bytes = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
  out.push(header(0xa0, bytes.length, 0xda, 0xdb, 31), bytes);
}

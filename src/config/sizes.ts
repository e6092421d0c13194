/**
 * Size strings used by every CLI flag that takes a size: plain bytes ("1048576"), binary suffixes
 * ("64K", "64M", "10G", "1T", also "64MiB"/"64MB" as the same binary unit), or a percentage of a
 * reference total ("5%", e.g. of RAM or of a filesystem).
 */
const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40, P: 2 ** 50 };

export function parseSize(text: string, percentOf?: number): number {
  const s = String(text).trim();
  const pct = /^(\d+(?:\.\d+)?)\s*%$/.exec(s);
  if (pct) {
    if (percentOf === undefined) throw new Error(`size "${s}": a percentage is not allowed here`);
    const v = Number(pct[1]);
    if (v <= 0 || v > 100) throw new Error(`size "${s}": a percentage must be in (0, 100]`);
    return Math.floor((percentOf * v) / 100);
  }
  const m = /^(\d+(?:\.\d+)?)\s*([KMGTP]?)(?:i?B)?$/i.exec(s);
  if (!m) throw new Error(`size "${s}": expected bytes, a size like 64M or 10G, or a percentage like 5%`);
  const bytes = Number(m[1]) * UNITS[m[2].toUpperCase()];
  if (!Number.isFinite(bytes) || bytes > Number.MAX_SAFE_INTEGER) throw new Error(`size "${s}" is too large`);
  return Math.floor(bytes);
}

/** A byte count as a size flag writes it (64K, 4M, 1G; plain bytes otherwise): `--help` defaults. */
export function sizeFlag(bytes: number): string {
  for (const unit of ['T', 'G', 'M', 'K'] as const) {
    if (bytes >= UNITS[unit] && bytes % UNITS[unit] === 0) return `${bytes / UNITS[unit]}${unit}`;
  }
  return String(bytes);
}

export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

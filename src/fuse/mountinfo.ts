import { readFile } from 'node:fs/promises';

/** One line of /proc/self/mountinfo, the fields flexfs needs. */
export interface MountEntry {
  mountpoint: string;
  fstype: string;
  source: string;
  options: string;
  /** The mount's device, "major:minor" (also the name of its backing device under /sys/class/bdi). */
  device: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [left, right] = line.split(' - ');
    if (!right) continue;
    const l = left.split(' ');
    const r = right.split(' ');
    out.push({ mountpoint: unescape(l[4]), options: l[5], fstype: r[0], source: unescape(r[1] ?? ''), device: l[2] });
  }
  return out;
}

export async function readMounts(): Promise<MountEntry[]> {
  return parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8'));
}

/** The FUSE mount at `mountpoint` (absolute, resolved), or undefined. The last one wins (stacked mounts). */
export async function findFuseMount(mountpoint: string): Promise<MountEntry | undefined> {
  const all = (await readMounts()).filter((m) => m.mountpoint === mountpoint && m.fstype.startsWith('fuse'));
  return all[all.length - 1];
}

import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

/**
 * Summarize V8 .cpuprofile files (node --cpu-prof, one per thread): self time per function,
 * aggregated over all threads, biggest first.
 */
interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

export interface SelfTime { fn: string; where: string; ms: number; share: number; thread: string }

export interface ProfileSummary {
  totalMs: number;
  /** Per thread (file): sampled wall time, and how much of it was idle. */
  threads: { name: string; ms: number; idleMs: number }[];
  top: SelfTime[];
}

function location(url: string, line: number, repo: string): string {
  if (!url) return '(native)';
  const path = url.startsWith('file://') ? url.slice(7) : url;
  const rel = path.startsWith(repo) ? relative(repo, path) : path;
  return `${rel.replace(/^node_modules\//, '')}:${line + 1}`;
}

export async function summarizeProfiles(dir: string, repo: string, topN = 12): Promise<ProfileSummary> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile')).sort();
  const byFn = new Map<string, SelfTime>();
  const threads: ProfileSummary['threads'] = [];
  let busyTotal = 0;
  for (const f of files) {
    const prof = JSON.parse(await readFile(join(dir, f), 'utf8')) as CpuProfile;
    const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
    const selfUs = new Map<number, number>();
    // Each sample's time is the delta to the next sample.
    for (let s = 0; s < prof.samples.length; s++) {
      const dt = prof.timeDeltas[s + 1] ?? 0;
      selfUs.set(prof.samples[s], (selfUs.get(prof.samples[s]) ?? 0) + dt);
    }
    // CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; thread 0 is the main thread.
    const tid = /\.(\d+)\.\d+\.cpuprofile$/.exec(f)?.[1] ?? '0';
    const thread = tid === '0' ? 'main' : `worker ${tid}`;
    let idleUs = 0;
    let allUs = 0;
    for (const [id, us] of selfUs) {
      const n = nodes.get(id)!;
      allUs += us;
      const name = n.callFrame.functionName || '(anonymous)';
      if (name === '(idle)') { idleUs += us; continue; }
      const where = location(n.callFrame.url, n.callFrame.lineNumber, repo);
      const key = `${thread === 'main' ? 'main' : 'workers'}|${name}|${where}`;
      const e = byFn.get(key) ?? { fn: name, where, ms: 0, share: 0, thread: thread === 'main' ? 'main' : 'workers' };
      e.ms += us / 1000;
      byFn.set(key, e);
    }
    busyTotal += (allUs - idleUs) / 1000;
    threads.push({ name: `${thread} (${f})`, ms: allUs / 1000, idleMs: idleUs / 1000 });
  }
  const top = [...byFn.values()].sort((a, b) => b.ms - a.ms).slice(0, topN);
  for (const t of top) t.share = busyTotal ? t.ms / busyTotal : 0;
  return { totalMs: busyTotal, threads, top };
}

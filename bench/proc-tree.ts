import { readFileSync, readdirSync } from 'node:fs';

/**
 * Processes and what they use, read from Linux's /proc (the benches' machine). Elsewhere every
 * list is empty and every figure 0, and the rows built on them say so (see CpuMeter).
 */

/** Linux reports CPU time in clock ticks of 1/100 s (USER_HZ, the same on every architecture Node runs on). */
const TICKS_PER_SECOND = 100;

function processIds(): number[] {
  try {
    return readdirSync('/proc')
      .filter((e) => /^\d+$/.test(e))
      .map(Number);
  } catch {
    return [];
  }
}

/** A process's /proc/<pid>/stat fields after its name (which may hold spaces), or undefined once it ended. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** `pid` and every process below it (tsx and node:cluster run the real work in child processes). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const p of processIds()) {
    const ppid = Number(statFields(p)?.[1]);
    if (Number.isFinite(ppid)) children.set(ppid, [...(children.get(ppid) ?? []), p]);
  }
  const out: number[] = [];
  for (const stack = [pid]; stack.length > 0;) {
    const p = stack.pop()!;
    out.push(p);
    stack.push(...(children.get(p) ?? []));
  }
  return out;
}

/** Processes whose command name is one of `names` (a server started outside the bench, say). */
export function processesNamed(names: string[]): number[] {
  return processIds().filter((p) => {
    try {
      return names.includes(readFileSync(`/proc/${p}/comm`, 'utf8').trim());
    } catch {
      return false;
    }
  });
}

/** CPU seconds (user and system) the processes have used so far; ended ones count 0. */
export function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const p of pids) {
    const f = statFields(p);
    // utime and stime: fields 14 and 15 of stat, 12 and 13 after the name.
    if (f) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / TICKS_PER_SECOND;
}

/** VmRSS of the processes, in kB. */
export function rssKb(pids: number[]): number {
  let total = 0;
  for (const p of pids) {
    try {
      total += Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return total;
}

/**
 * Cores each group of processes kept busy over a measured interval: CPU seconds used between
 * `start` and `stop`, per second of wall time. A group names its processes when `start` is
 * called; one that ends before `stop` counts for nothing.
 */
export class CpuMeter {
  private began: { at: number; used: Map<string, Map<number, number>> } | undefined;

  constructor(private readonly groups: Record<string, () => number[]>) {}

  start(): void {
    const used = new Map<string, Map<number, number>>();
    for (const [name, pids] of Object.entries(this.groups))
      used.set(name, new Map(pids().map((p) => [p, cpuSeconds([p])])));
    this.began = { at: performance.now(), used };
  }

  /** Cores busy per group since `start` (a group with no process left out). */
  stop(): Map<string, number> {
    const began = this.began;
    if (!began) throw new Error('CpuMeter.stop before start');
    const seconds = (performance.now() - began.at) / 1000;
    const out = new Map<string, number>();
    for (const [name, was] of began.used) {
      if (was.size === 0) continue;
      let cpu = 0;
      for (const [p, before] of was) cpu += Math.max(0, cpuSeconds([p]) - before);
      out.set(name, cpu / seconds);
    }
    this.began = undefined;
    return out;
  }
}

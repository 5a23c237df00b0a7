import { readFileSync, readdirSync } from 'node:fs';

/**
 * Processes and what they use, read from Linux's /proc (the benches' machine). Without it the
 * lists hold at most the process asked about, the figures are 0, and CpuMeter measures nothing.
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

/** CPU seconds (user and system) a process has used so far, or undefined once it ended. */
function cpuOf(pid: number): number | undefined {
  const f = statFields(pid);
  // utime and stime: fields 14 and 15 of stat, 12 and 13 after the name.
  return f ? (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND : undefined;
}

/** CPU seconds (user and system) the processes have used so far; ended ones count 0. */
export function cpuSeconds(pids: number[]): number {
  return pids.reduce((sum, p) => sum + (cpuOf(p) ?? 0), 0);
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
 * called; one that ends before `stop` counts for nothing, and a group none of whose processes
 * could be read (no /proc, or all gone) is left out.
 */
export class CpuMeter {
  private began: { at: number; used: Map<string, Map<number, number>> } | undefined;

  constructor(private readonly groups: Record<string, () => number[]>) {}

  start(): void {
    const used = new Map<string, Map<number, number>>();
    for (const [name, pids] of Object.entries(this.groups)) {
      const readable = new Map<number, number>();
      for (const p of pids()) {
        const cpu = cpuOf(p);
        if (cpu !== undefined) readable.set(p, cpu);
      }
      used.set(name, readable);
    }
    this.began = { at: performance.now(), used };
  }

  /** Cores busy per group since `start` (a group with no process it could read left out). */
  stop(): Map<string, number> {
    const began = this.began;
    if (!began) throw new Error('CpuMeter.stop before start');
    const seconds = (performance.now() - began.at) / 1000;
    const out = new Map<string, number>();
    for (const [name, was] of began.used) {
      if (was.size === 0) continue;
      let cpu = 0;
      for (const [p, before] of was) cpu += Math.max(0, (cpuOf(p) ?? before) - before);
      out.set(name, cpu / seconds);
    }
    this.began = undefined;
    return out;
  }
}

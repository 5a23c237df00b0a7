import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { CpuMeter, cpuSeconds, processTree, processesNamed, rssKb } from '../bench/proc-tree';

// A shell that starts a busy node below it and waits for it (`; true`: no exec in its place), so
// the meter must find the grandchild and its CPU.
function busyTree() {
  const busy = `"${process.execPath}" -e "const end = Date.now() + 10000; while (Date.now() < end);"`;
  return spawn('sh', ['-c', `${busy}; true`], { stdio: 'ignore' });
}

/** The shell's tree once its busy node runs (up to 10 s on a loaded machine). */
async function started(pid: number): Promise<number[]> {
  for (let waited = 0; waited < 10_000; waited += 50) {
    const tree = processTree(pid);
    if (tree.length >= 2 && rssKb(tree) > 10_000) return tree;
    await new Promise((r) => setTimeout(r, 50));
  }
  return processTree(pid);
}

test('a process tree and the cores it keeps busy, from /proc', async () => {
  const shell = busyTree();
  let tree: number[] = [];
  try {
    tree = await started(shell.pid!);
    expect(tree[0]).toBe(shell.pid);
    expect(tree.length).toBeGreaterThanOrEqual(2);
    expect(rssKb(tree)).toBeGreaterThan(10_000);
    const meter = new CpuMeter({ busy: () => processTree(shell.pid!), none: () => [], gone: () => [2 ** 22 + 1] });
    meter.start();
    await new Promise((r) => setTimeout(r, 500));
    const cores = meter.stop();
    // The busy loop holds at most about one core, less when the suite's other workers and the
    // database servers share the machine's two (CI measured 0.47): the meter must see it busy, no
    // more than one thread can be. `none` names no process and `gone` none that runs: left out.
    expect(cores.get('busy')).toBeGreaterThan(0.05);
    expect(cores.get('busy')).toBeLessThan(1.5);
    expect(cores.has('none')).toBe(false);
    expect(cores.has('gone')).toBe(false);
  } finally {
    // The busy node first, so that it does not spin on after its shell.
    for (const pid of tree.slice(1)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    shell.kill('SIGKILL');
  }
  if (shell.exitCode === null && shell.signalCode === null) await new Promise((r) => shell.once('exit', r));
  // Ended processes count nothing, and stopping twice is a mistake.
  expect(cpuSeconds([shell.pid!])).toBe(0);
  expect(() => new CpuMeter({}).stop()).toThrow('before start');
});

test('processes found by their command name', () => {
  expect(processesNamed(['no-such-command-here'])).toEqual([]);
  const own = readFileSync(`/proc/${process.pid}/comm`, 'utf8').trim();
  expect(processesNamed([own])).toContain(process.pid);
});

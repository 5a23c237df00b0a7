import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { CpuMeter, cpuSeconds, processTree, processesNamed, rssKb } from '../bench/proc-tree';

// A shell that starts a busy node below it and waits for it (`; true`: no exec in its place), so
// the meter must find the grandchild and its CPU.
function busyTree() {
  const busy = `"${process.execPath}" -e "const end = Date.now() + 1500; while (Date.now() < end);"`;
  return spawn('sh', ['-c', `${busy}; true`], { stdio: 'ignore' });
}

test('a process tree and the cores it keeps busy, from /proc', async () => {
  const shell = busyTree();
  try {
    await new Promise((r) => setTimeout(r, 300));
    const tree = processTree(shell.pid!);
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
    shell.kill('SIGKILL');
  }
  await new Promise((r) => setTimeout(r, 1500));
  // Ended processes count nothing, and stopping twice is a mistake.
  expect(cpuSeconds([shell.pid!])).toBe(0);
  expect(() => new CpuMeter({}).stop()).toThrow('before start');
});

test('processes found by their command name', () => {
  expect(processesNamed(['no-such-command-here'])).toEqual([]);
  const own = readFileSync(`/proc/${process.pid}/comm`, 'utf8').trim();
  expect(processesNamed([own])).toContain(process.pid);
});

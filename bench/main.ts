import { Command } from 'commander';
import { runCli } from '../lib/cli';
import { benchPortal } from './portal-bench';
import { type BenchRow, toMarkdown, writeReport } from './report';

/**
 * `npm run bench [-- --only portal]`: benchmarks that print figures and their ratio to the
 * baselines measured in the same run. Never a pass/fail test. Results: bench-results/.
 */
const SECTIONS = { portal: benchPortal } as const;

const program = new Command('bench').option('--only <sections>', `comma-separated: ${Object.keys(SECTIONS).join(',')}`);

runCli(async () => {
  program.parse();
  const only = (program.opts<{ only?: string }>().only ?? Object.keys(SECTIONS).join(',')).split(',');
  const rows: BenchRow[] = [];
  for (const name of only) {
    const section = SECTIONS[name as keyof typeof SECTIONS];
    if (!section) throw new Error(`unknown bench section "${name}"; choose from ${Object.keys(SECTIONS).join(', ')}`);
    rows.push(...(await section((s) => process.stderr.write(`${s}\n`))));
  }
  writeReport('latest', rows, { only });
  console.log(toMarkdown(rows));
});

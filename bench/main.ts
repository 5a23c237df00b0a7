import { Command, Option } from 'commander';
import { intArg, intListArg, listArg, runCli } from '../lib/cli';
import { SINK_NAMES } from '../cdc-daemon/src/sinks/sink';
import { benchCdc } from './cdc-bench';
import { benchPortal } from './portal-bench';
import { benchReports } from './reports-bench';
import { benchScaling } from './scaling-bench';
import { benchStartup } from './startup-bench';
import { benchUniversity } from './university-bench';
import { type BenchRow, toMarkdown, writeReport } from './report';

/**
 * `npm run bench [-- --only portal]`: benchmarks that print figures and their ratio to the
 * baselines measured in the same run. Never a pass/fail test. Results: bench-results/.
 */
interface Options {
  only?: SectionName[];
  rows: number;
  runs: number;
  scaling: number[];
  students: number;
  skipSinks?: string[];
}

const SECTIONS = {
  cdc: (o: Options, log: (s: string) => void) => benchCdc({ rows: o.rows, runs: o.runs, log }),
  portal: (o: Options, log: (s: string) => void) => benchPortal(o.students, log),
  scaling: (o: Options, log: (s: string) => void) => benchScaling(o.scaling, log),
  reports: (o: Options, log: (s: string) => void) => benchReports(o.students, o.runs, log, o.skipSinks ?? []),
  startup: (o: Options, log: (s: string) => void) => benchStartup(o.runs, log),
  university: (o: Options, log: (s: string) => void) => benchUniversity(o.students, o.runs, log),
} as const;
type SectionName = keyof typeof SECTIONS;
const SECTION_NAMES = Object.keys(SECTIONS) as SectionName[];
/** What runs without --only: the scaling (up to 10M rows) and university (100,000 students) sections take long, so on request. */
const DEFAULT_SECTIONS: SectionName[] = ['cdc', 'portal', 'reports'];

const program = new Command('bench')
  .option('--only <sections>', `comma-separated: ${SECTION_NAMES.join(',')}`, listArg(SECTION_NAMES, 'bench section'))
  .option('--rows <n>', 'rows in the CDC benchmark table', intArg(1000, 100_000_000), 1_000_000)
  .option('--runs <n>', 'runs per figure (the median is reported)', intArg(1, 20), 3)
  .option(
    '--students <n>',
    'students in the seeded university of the reports and portal benchmarks',
    intArg(100, 1_000_000),
    20_000,
  )
  .option(
    '--skip-sinks <list>',
    'reports: sinks not to feed (their report parts fall back to the mirror, and say so)',
    listArg(SINK_NAMES, 'sink'),
  )
  .addOption(
    new Option('--scaling <sizes>', 'table sizes for --only scaling')
      .argParser(intListArg(1000, 100_000_000))
      .default([100_000, 1_000_000, 10_000_000], '100000,1000000,10000000'),
  );

runCli(async () => {
  program.parse();
  const opts = program.opts<Options>();
  const only = opts.only ?? DEFAULT_SECTIONS;
  const rows: BenchRow[] = [];
  let failed: unknown;
  for (const name of only) {
    try {
      rows.push(...(await SECTIONS[name](opts, (s) => process.stderr.write(`${s}\n`))));
    } catch (err) {
      // The sections before it took many minutes: their figures are still written.
      failed = err;
      process.stderr.write(`bench section ${name} failed; the sections after it did not run\n`);
      break;
    }
  }
  if (rows.length > 0) {
    writeReport('latest', rows, { only, ...(failed ? { failed: String(failed) } : {}) });
    console.log(toMarkdown(rows));
  }
  if (failed) throw failed;
});

import { execFile } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');

/** Each command line as a user might mistype it, and what the error line must say. */
const CASES: [script: string, args: string[], says: RegExp][] = [
  ['bench/main.ts', ['--only', 'portal,nope'], /unknown bench section "nope"; choose from cdc, portal/],
  ['bench/main.ts', ['--scaling', '100000,1e6'], /expected a whole number, got "1e6"/],
  ['bench/main.ts', ['--skip-sinks', 'mysql'], /unknown sink "mysql"; choose from redis, mongo, neo4j, elasticsearch/],
  ['bench/main.ts', ['--students', '-5'], /argument '-5' is invalid/],
  ['webapp/scripts/seed.ts', ['--students', 'many'], /expected a whole number, got "many"/],
  [
    'webapp/scripts/admin.ts',
    ['set-role', '--username', 'x', '--role', 'wizard'],
    /Allowed choices are student, staff, operator/,
  ],
  ['cdc-daemon/src/main.ts', ['resync'], /missing required argument 'table'/],
  ['cdc-daemon/src/main.ts', ['once', '--jsn'], /unknown option '--jsn'/],
  ['cdc-daemon/test/soak.ts', ['--minutes', 'ten'], /expected a whole number, got "ten"/],
  ['scripts/stores.ts', ['frob'], /unknown command 'frob'/],
  ['scripts/start.ts', ['--bogus'], /unknown option '--bogus'/],
];

function run(script: string, args: string[]): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    // No database URL and no .env (cwd elsewhere): an argument must be refused before any
    // connection is tried.
    execFile(
      TSX,
      [path.join(ROOT, script), ...args],
      { cwd: '/tmp', env: { PATH: process.env.PATH }, timeout: 30_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
  });
}

test('every command refuses a bad argument with one error line, no stack trace, exit 1', async () => {
  const results = await Promise.all(CASES.map(([script, args]) => run(script, args)));
  const seen = results.map((r, i) => {
    const [script, args] = CASES[i]!;
    const first = r.stderr.split('\n')[0]!;
    return {
      command: `${script} ${args.join(' ')}`,
      code: r.code,
      error: /^error: /.test(first) && CASES[i]![2].test(first),
      stack: /^\s+at /m.test(r.stderr),
    };
  });
  expect(seen).toEqual(
    CASES.map(([script, args]) => ({ command: `${script} ${args.join(' ')}`, code: 1, error: true, stack: false })),
  );
}, 120_000);

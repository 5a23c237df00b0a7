import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DAEMON_NODE_FLAGS } from '../cdc-daemon/src/config';

// Every launcher of the daemon passes the same heap flags (config.ts says why each is there):
// `npm start` takes them from DAEMON_NODE_FLAGS, the image and `npm run cdc` spell them out.
const ROOT = path.resolve(__dirname, '..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

describe("the daemon's node flags", () => {
  test('node accepts them', () => {
    const r = spawnSync(process.execPath, [...DAEMON_NODE_FLAGS, '-e', 'process.exit(0)'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  test("the daemon image's command passes them", () => {
    const cmd = read('Dockerfile')
      .split('\n')
      .find((line) => line.startsWith('CMD [') && line.includes('cdc-daemon'));
    const args = JSON.parse(cmd!.slice('CMD '.length)) as string[];
    expect(args).toEqual(['node', ...DAEMON_NODE_FLAGS, 'dist/cdc-daemon/src/main.js', 'run']);
  });

  test('`npm run cdc` passes them', () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    expect(scripts.cdc).toBe(`tsx ${DAEMON_NODE_FLAGS.join(' ')} cdc-daemon/src/main.ts`);
  });
});

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StartFailed } from './support/private-servers';
import { PortTaken, onFreePorts, spawnGroup, startHarnessServer } from './support/stores/store-cache';

// The live-store harness picks free ports before a server binds them: another process can take
// one in between. Such a start is told apart from other failures and tried once more.
const rmDir = (dir: string) => rmSync(dir, { recursive: true, force: true });

const failingServer = (output: string) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cs-harness-'));
  return startHarnessServer({
    what: 'A test server',
    url: 'http://127.0.0.1:1',
    port: 1,
    dir,
    extra: {},
    launch: () => spawnGroup('sh', ['-c', `echo '${output}'; exit 1`], { cwd: dir, logFile: `${dir}/out.log` }),
    ready: async () => false,
  }).catch((err: unknown) => {
    if (!(err instanceof PortTaken)) rmDir(dir);
    throw err;
  });
};

test('a server that exits saying its port is taken fails with PortTaken, naming its folder', async () => {
  const err: unknown = await failingServer('listen tcp 127.0.0.1:4242: bind: address already in use').catch((e) => e);
  expect(err).toBeInstanceOf(PortTaken);
  const dir = (err as PortTaken).dir;
  expect(existsSync(`${dir}/out.log`)).toBe(true);
  rmDir(dir);
});

test('any other exit at start is a plain StartFailed', async () => {
  const err: unknown = await failingServer('fatal: no data folder').catch((e) => e);
  expect(err).toBeInstanceOf(StartFailed);
  expect(err).not.toBeInstanceOf(PortTaken);
});

test('onFreePorts starts once more after PortTaken, removing the first try’s folder; other failures are not retried', async () => {
  const first = mkdtempSync(path.join(os.tmpdir(), 'cs-harness-'));
  let tries = 0;
  const started = await onFreePorts(async () => {
    if (tries++ === 0) throw new PortTaken('taken', first);
    return 'up';
  });
  expect({ started, tries, firstFolderLeft: existsSync(first) }).toEqual({
    started: 'up',
    tries: 2,
    firstFolderLeft: false,
  });

  let failures = 0;
  await expect(
    onFreePorts(async () => {
      failures++;
      throw new StartFailed('exited');
    }),
  ).rejects.toThrow('exited');
  expect(failures).toBe(1);
});

import { mkdirSync, mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../../lib/free-port';
import type { PrivateServer } from '../private-servers';
import { missingFromCache, onFreePorts, paths, spawnGroup, startHarnessServer } from './store-cache';

/**
 * A server speaking MongoDB's wire protocol for the tests: FerretDB v1 (built from the Go module
 * proxy by `npm run stores -- fetch`) on its SQLite backend, on a free 127.0.0.1 port, data in a
 * throw-away folder that outlives a stop. No MongoDB server binary is reachable from this
 * machine's registries; FerretDB is a real server, and what it lacks is listed in the README.
 */
export function startFerretdb(): Promise<PrivateServer> {
  return onFreePorts(startOnce);
}

async function startOnce(): Promise<PrivateServer> {
  const missing = missingFromCache('mongo');
  if (missing) throw new Error(missing);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cs-ferretdb-'));
  mkdirSync(`${dir}/data`);
  const port = await freePort();
  return startHarnessServer({
    what: 'FerretDB',
    url: `mongodb://127.0.0.1:${port}/`,
    port,
    dir,
    extra: {},
    launch: () =>
      spawnGroup(
        paths.ferretdb,
        [
          `--listen-addr=127.0.0.1:${port}`,
          '--handler=sqlite',
          `--sqlite-url=file:${dir}/data/`,
          `--state-dir=${dir}`,
          '--telemetry=disable',
          '--log-level=warn',
          '--debug-addr=-',
        ],
        { logFile: `${dir}/out.log` },
      ),
    ready: () =>
      new Promise<boolean>((resolve) => {
        const c = net.connect(port, '127.0.0.1', () => (c.destroy(), resolve(true)));
        c.on('error', () => resolve(false));
      }),
  });
}

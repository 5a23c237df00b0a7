import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { type PrivateServer, StartFailed, freePort, portClosed, until } from '../private-servers';
import { missingFromCache, paths, spawnGroup, stopGroup } from './store-cache';

/**
 * A server speaking MongoDB's wire protocol for the tests: FerretDB v1 (built from the Go module
 * proxy by `npm run stores -- fetch`) on its SQLite backend, on a free 127.0.0.1 port, data in a
 * throw-away folder that outlives a stop. No MongoDB server binary is reachable from this
 * machine's registries; FerretDB is a real server, and what it lacks is listed in the README.
 */
export async function startFerretdb(): Promise<PrivateServer> {
  const missing = missingFromCache('mongo');
  if (missing) throw new Error(missing);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cs-ferretdb-'));
  mkdirSync(`${dir}/data`);
  const port = await freePort();
  let child: ChildProcess | undefined;
  const server: PrivateServer = {
    url: `mongodb://127.0.0.1:${port}/`,
    port,
    async start() {
      child = spawnGroup(
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
      );
      const started = child;
      await until('FerretDB', async () => {
        if (started.exitCode !== null) throw new StartFailed(`FerretDB exited; see ${dir}/out.log`);
        return new Promise<boolean>((resolve) => {
          const c = net.connect(port, '127.0.0.1', () => (c.destroy(), resolve(true)));
          c.on('error', () => resolve(false));
        });
      });
    },
    async stop(how = 'graceful') {
      await stopGroup(child, how);
      await portClosed(port);
    },
    async destroy() {
      await server.stop('kill');
      rmSync(dir, { recursive: true, force: true });
    },
    handle: () => ({ pgid: child?.pid, dir }),
  };
  await server.start();
  return server;
}

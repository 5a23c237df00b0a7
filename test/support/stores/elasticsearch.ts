import { chownSync, cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../../lib/free-port';
import type { PrivateServer } from '../private-servers';
import {
  JAVA_HOME,
  type StoreUse,
  jvmFlags,
  missingFromCache,
  onFreePorts,
  paths,
  spawnGroup,
  startHarnessServer,
} from './store-cache';

/**
 * A real Elasticsearch 8 server for the tests: the integ-test-zip distribution from Maven Central
 * (fetched by `npm run stores -- fetch`) on the machine's JDK, single node, 512 MB heap, security
 * off, HTTP on a free 127.0.0.1 port, data in a throw-away folder. Elasticsearch refuses to run as
 * root, so under root it runs as `nobody`.
 */
export function startElasticsearch(use: StoreUse = 'serve'): Promise<PrivateServer> {
  return onFreePorts(() => startOnce(use));
}

async function startOnce(use: StoreUse): Promise<PrivateServer> {
  const missing = missingFromCache('elasticsearch');
  if (missing) throw new Error(missing);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cs-es-'));
  const conf = path.join(dir, 'config');
  cpSync(path.join(paths.esHome, 'config'), conf, { recursive: true });
  // jvm.options names logs/ and data/ relative to the read-only home: point them here.
  const jvm = path.join(conf, 'jvm.options');
  writeFileSync(
    jvm,
    readFileSync(jvm, 'utf8')
      .replaceAll('=logs/', `=${dir}/logs/`)
      .replace('HeapDumpPath=data', `HeapDumpPath=${dir}/data`),
  );
  writeFileSync(
    path.join(conf, 'jvm.options.d', 'campus.options'),
    ['-Xms512m', '-Xmx512m', ...jvmFlags(use), ''].join('\n'),
  );
  for (const sub of ['data', 'logs', 'tmp']) mkdirSync(path.join(dir, sub));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'nobody']).toString());
    const gid = Number(execFileSync('id', ['-g', 'nobody']).toString());
    execFileSync('chown', ['-R', `${uid}:${gid}`, dir]);
    chownSync(dir, uid, gid);
  }
  const port = await freePort();
  const transport = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const bin = path.join(paths.esHome, 'bin', 'elasticsearch');
  const args = [
    `-Ediscovery.type=single-node`,
    `-Ehttp.port=${port}`,
    `-Etransport.port=${transport}`,
    '-Enetwork.host=127.0.0.1',
    `-Epath.data=${dir}/data`,
    `-Epath.logs=${dir}/logs`,
    '-Expack.security.enabled=false',
    '-Expack.ml.enabled=false',
    // A test machine's disk may be fuller than the defaults allow; never go read-only here.
    '-Ecluster.routing.allocation.disk.threshold_enabled=false',
  ];
  const env = { ...process.env, ES_JAVA_HOME: JAVA_HOME, ES_PATH_CONF: conf, ES_TMPDIR: `${dir}/tmp` };
  const logFile = `${dir}/out.log`;
  return startHarnessServer({
    what: 'Elasticsearch',
    url,
    port,
    dir,
    extra: {},
    launch: () =>
      asRoot
        ? spawnGroup('runuser', ['-u', 'nobody', '--', 'env', ...envArgs(env), bin, ...args], { cwd: dir, logFile })
        : spawnGroup(bin, args, { env, cwd: dir, logFile }),
    ready: async () => (await fetch(`${url}/_cluster/health?wait_for_status=yellow&timeout=1s`)).ok,
  });
}

/** The variables `runuser` must pass on (it starts the command with a clean environment). */
function envArgs(env: NodeJS.ProcessEnv): string[] {
  return ['ES_JAVA_HOME', 'ES_PATH_CONF', 'ES_TMPDIR', 'PATH'].map((k) => `${k}=${env[k] ?? ''}`);
}

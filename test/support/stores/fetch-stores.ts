import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../../lib/project-root';
import { ES_VERSION, FERRETDB_VERSION, JAVA_HOME, NEO4J_VERSION, STORES_CACHE, paths } from './store-cache';

const HERE = path.join(PROJECT_ROOT, 'test/support/stores');

/** A tool the fetch needs, or one line saying what to install. */
function need(tool: string, hint: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${tool} is missing: ${hint}`);
  }
}

function run(cmd: string, args: string[], cwd?: string, env?: NodeJS.ProcessEnv): void {
  execFileSync(cmd, args, { cwd, env: env ?? process.env, stdio: ['ignore', 'ignore', 'inherit'] });
}

/**
 * Elasticsearch: the integ-test-zip from Maven Central, unpacked, plus the campus-analysis
 * plugin (es-analysis/) compiled against the server's own jars.
 */
export function fetchElasticsearch(log: (s: string) => void): void {
  const jar = path.join(paths.esHome, 'plugins', 'campus-analysis', 'campus-analysis.jar');
  if (existsSync(jar)) return log(`elasticsearch ${ES_VERSION}: cached`);
  need('mvn', 'apt-get install maven');
  need('unzip', 'apt-get install unzip');
  need(path.join(JAVA_HOME, 'bin', 'javac'), `a JDK 17 at ${JAVA_HOME} (apt-get install openjdk-17-jdk-headless)`);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'cs-fetch-es-'));
  try {
    log(`elasticsearch ${ES_VERSION}: downloading the integ-test-zip from Maven Central`);
    run(
      'mvn',
      [
        '-q',
        '-B',
        'dependency:copy',
        `-Dartifact=org.elasticsearch.distribution.integ-test-zip:elasticsearch:${ES_VERSION}:zip`,
        `-DoutputDirectory=${tmp}`,
      ],
      tmp,
    );
    rmSync(paths.esHome, { recursive: true, force: true });
    mkdirSync(STORES_CACHE, { recursive: true });
    run('unzip', ['-q', path.join(tmp, `elasticsearch-${ES_VERSION}.zip`), '-d', STORES_CACHE]);
    log('elasticsearch: building the campus-analysis plugin');
    const classes = path.join(tmp, 'classes');
    run(path.join(JAVA_HOME, 'bin', 'javac'), [
      '--release',
      '17',
      '-cp',
      `${paths.esHome}/lib/*`,
      '-d',
      classes,
      path.join(HERE, 'es-analysis', 'CampusAnalysisPlugin.java'),
    ]);
    const plugin = path.dirname(jar);
    mkdirSync(plugin, { recursive: true });
    run(path.join(JAVA_HOME, 'bin', 'jar'), ['cf', jar, '-C', classes, '.']);
    writeFileSync(
      path.join(plugin, 'plugin-descriptor.properties'),
      readFileSync(path.join(HERE, 'es-analysis', 'plugin-descriptor.properties.template'), 'utf8').replace(
        '@ES_VERSION@',
        ES_VERSION,
      ),
    );
    // Elasticsearch runs as `nobody` under root: it must read its home.
    run('chmod', ['-R', 'a+rX', paths.esHome]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Neo4j: neo4j-harness and its dependencies from Maven Central, and the launcher compiled. */
export function fetchNeo4j(log: (s: string) => void): void {
  const launcher = path.join(HERE, 'neo4j', 'Neo4jServer.java');
  if (!existsSync(path.join(paths.neo4jLib, `neo4j-harness-${NEO4J_VERSION}.jar`))) {
    need('mvn', 'apt-get install maven');
    log(`neo4j ${NEO4J_VERSION}: downloading neo4j-harness from Maven Central`);
    run('mvn', [
      '-q',
      '-B',
      '-f',
      path.join(HERE, 'neo4j', 'pom.xml'),
      'dependency:copy-dependencies',
      `-DoutputDirectory=${paths.neo4jLib}`,
      '-DincludeScope=runtime',
    ]);
  } else log(`neo4j ${NEO4J_VERSION}: cached`);
  need(path.join(JAVA_HOME, 'bin', 'javac'), `a JDK 17 at ${JAVA_HOME} (apt-get install openjdk-17-jdk-headless)`);
  rmSync(paths.neo4jClasses, { recursive: true, force: true });
  run(path.join(JAVA_HOME, 'bin', 'javac'), [
    '--release',
    '17',
    '-cp',
    `${paths.neo4jLib}/*`,
    '-d',
    paths.neo4jClasses,
    launcher,
  ]);
}

/**
 * FerretDB: its module from the Go module proxy, built. The module zip lacks the version file
 * the build embeds (the FerretDB repository generates it from git), so the build runs on a copy
 * with that file written.
 */
export function fetchFerretdb(log: (s: string) => void): void {
  if (existsSync(paths.ferretdb)) return log(`ferretdb ${FERRETDB_VERSION}: cached`);
  need('go', 'apt-get install golang (or a Go toolchain on PATH)');
  log(`ferretdb ${FERRETDB_VERSION}: downloading from the Go module proxy and building`);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'cs-fetch-ferretdb-'));
  try {
    const info = JSON.parse(
      execFileSync('go', ['mod', 'download', '-json', `github.com/FerretDB/FerretDB@${FERRETDB_VERSION}`], {
        cwd: tmp,
        env: { ...process.env, GOFLAGS: '-mod=mod' },
      }).toString(),
    ) as { Dir: string };
    const src = path.join(tmp, 'src');
    cpSync(info.Dir, src, { recursive: true });
    chmodSync(path.join(src, 'build', 'version'), 0o755);
    writeFileSync(path.join(src, 'build', 'version', 'version.txt'), `${FERRETDB_VERSION}\n`);
    mkdirSync(path.dirname(paths.ferretdb), { recursive: true });
    run('go', ['build', '-o', paths.ferretdb, './cmd/ferretdb'], src);
  } finally {
    run('chmod', ['-R', 'u+w', tmp]);
    rmSync(tmp, { recursive: true, force: true });
  }
}

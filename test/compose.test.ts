import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';

// docker-compose.yml cannot run here (no Docker engine), but Debian's docker-compose validates
// it without one. CI installs it; elsewhere a missing binary skips these tests with a reason.
const ROOT = path.resolve(__dirname, '..');
const SECRETS = {
  MYSQL_ROOT_PASSWORD: 'a',
  MYSQL_PASSWORD: 'b',
  CDC_MYSQL_PASSWORD: 'c',
  POSTGRES_PASSWORD: 'd',
  NEO4J_PASSWORD: 'eeeeeeee',
  SESSION_SECRET: 'f'.repeat(32),
  CDC_ADMIN_TOKEN: 'g'.repeat(24),
};
const hasCompose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;
if (!hasCompose && process.env.CI)
  throw new Error('docker-compose is required in CI to validate docker-compose.yml (apt-get install docker-compose)');
if (!hasCompose)
  console.warn(
    'skipping docker-compose.yml validation: docker-compose is not installed (apt-get install docker-compose)',
  );
const maybe = hasCompose ? describe : describe.skip;

// An empty env file, so a developer's .env cannot make a missing secret look set.
const ENV_DIR = mkdtempSync(path.join(tmpdir(), 'compose-'));
const EMPTY_ENV = path.join(ENV_DIR, 'empty.env');
writeFileSync(EMPTY_ENV, '');
afterAll(() => rmSync(ENV_DIR, { recursive: true, force: true }));

function compose(args: string[], env: Record<string, string>) {
  return spawnSync('docker-compose', ['-f', path.join(ROOT, 'docker-compose.yml'), '--env-file', EMPTY_ENV, ...args], {
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
  });
}

maybe('docker-compose.yml', () => {
  test('is valid once the secrets are set', () => {
    const r = compose(['config', '-q'], SECRETS);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  test('refuses to start without a secret, naming it (no default passwords)', () => {
    for (const missing of Object.keys(SECRETS)) {
      const env = { ...SECRETS, [missing]: '' };
      const r = compose(['config', '-q'], env);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(missing);
    }
  });

  test('every service has a health check and waits for healthy dependencies', () => {
    const config = parse(compose(['config'], SECRETS).stdout) as {
      services: Record<string, { healthcheck?: unknown; depends_on?: Record<string, { condition: string }> }>;
    };
    expect(Object.keys(config.services).sort()).toEqual(
      expect.arrayContaining(['mysql', 'postgres', 'redis', 'mongo', 'neo4j', 'elasticsearch', 'webapp']),
    );
    for (const [name, svc] of Object.entries(config.services)) {
      if (name !== 'webapp' && name !== 'cdc-daemon')
        expect({ name, healthcheck: Boolean(svc.healthcheck) }).toEqual({ name, healthcheck: true });
      for (const dep of Object.values(svc.depends_on ?? {})) expect(dep.condition).toBe('service_healthy');
    }
  });
});

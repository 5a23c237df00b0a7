import { availableParallelism } from 'node:os';
import { defaultPortalWorkers, loadWebappConfig } from '../src/config';

/** The least a portal needs. */
const env = { MYSQL_URL: 'mysql://campus:pw@127.0.0.1:3306/campus', SESSION_SECRET: 's'.repeat(32) };

test('unset, PORTAL_WORKERS leaves one CPU to what shares the host, and never gives fewer than one worker', () => {
  expect([1, 2, 4, 8].map((cpus) => defaultPortalWorkers(cpus))).toEqual([1, 1, 3, 7]);
  expect(loadWebappConfig(env).workers).toBe(Math.max(1, availableParallelism() - 1));
});

test('PORTAL_WORKERS is taken as given', () => {
  expect(loadWebappConfig({ ...env, PORTAL_WORKERS: '1' }).workers).toBe(1);
  expect(loadWebappConfig({ ...env, PORTAL_WORKERS: '6' }).workers).toBe(6);
});

test('PORTAL_METRICS_PORT is off unless set, and must be a port other than the pages', () => {
  expect(loadWebappConfig(env).metricsPort).toBe(0);
  expect(loadWebappConfig({ ...env, PORTAL_METRICS_PORT: '9465' }).metricsPort).toBe(9465);
  expect(() => loadWebappConfig({ ...env, PORT: '8080', PORTAL_METRICS_PORT: '8080' })).toThrow(
    /PORTAL_METRICS_PORT: must differ from PORT/,
  );
  expect(() => loadWebappConfig({ ...env, PORTAL_METRICS_PORT: '70000' })).toThrow(/PORTAL_METRICS_PORT/);
});

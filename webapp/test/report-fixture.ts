import type { Knex } from 'knex';
import request from 'supertest';
import { createLogger } from '../../lib/logger';
import { SinkRelay } from '../../cdc-daemon/src/outbox/relay';
import type { Sink } from '../../cdc-daemon/src/sinks/sink';
import { type CdcFixture, createCdcFixture, quietLogger } from '../../cdc-daemon/test/cdc-fixture';
import { relaySettings } from '../../cdc-daemon/test/sinks/sink-fixture';
import type { PortalApp } from '../src/app';
import { createKnex } from '../src/db/knex';
import { migrateMysql } from '../src/db/migrate';
import type { StoreSettings } from '../src/reports/report-stores';
import { seedDatabase } from '../src/seed/seed-database';
import { createAccount } from '../src/use-cases/accounts';
import { csrfFrom, PASSWORD, testApp } from './portal-fixture';

/** The reports' clock: the seed's "today"; the past term is over, the current one about to start. */
export const REPORT_NOW = new Date('2026-11-21T12:00:00Z');

/**
 * A seeded university in MySQL, mirrored to PostgreSQL by real cycles, the given sinks fed by real
 * relays, and the portal reading them (accounts student1, staff, operator with PASSWORD).
 * `sync()` runs a cycle and drains every relay, so the stores equal the mirror afterwards.
 */
export interface ReportFixture {
  cdc: CdcFixture;
  db: Knex;
  portal: PortalApp;
  stores: StoreSettings;
  sync: () => Promise<void>;
  as: (username: string, portal?: PortalApp) => Promise<ReturnType<typeof request.agent>>;
  /** Another portal on the same data, reading other stores (e.g. a dead Redis). */
  portalWith: (stores: StoreSettings) => PortalApp;
  close: () => Promise<void>;
}

export async function createReportFixture(options: {
  students?: number;
  sinks: Sink[];
  stores: Omit<StoreSettings, 'schema'>;
}): Promise<ReportFixture> {
  const cdc = await createCdcFixture({ CDC_SKIP_HINTS: 'false' });
  await migrateMysql(cdc.mysqlDb.url);
  await seedDatabase(cdc.mysqlDb.url, {
    students: options.students ?? 60,
    seed: 11,
    today: new Date('2026-11-21T00:00:00Z'),
  });
  const db = createKnex(cdc.mysqlDb.url, { min: 0, max: 10 });
  const [first] = await db('students').orderBy('id').limit(1).pluck('id');
  await createAccount(db, { username: 'student1', password: PASSWORD, role: 'student', studentId: Number(first) }, 4);
  await createAccount(db, { username: 'staff', password: PASSWORD, role: 'staff', studentId: null }, 4);
  await createAccount(db, { username: 'operator', password: PASSWORD, role: 'operator', studentId: null }, 4);
  const relays = options.sinks.map(
    (s) => new SinkRelay(s, cdc.pool, cdc.config.targetSchema, relaySettings, quietLogger),
  );
  const sync = async () => {
    await cdc.cycle();
    for (const relay of relays) {
      let i = 0;
      while ((await relay.step()) > 0) if (++i > 10_000) throw new Error('a relay did not drain the outbox');
    }
  };
  await sync();
  const stores: StoreSettings = { schema: cdc.config.targetSchema, ...options.stores };
  const logger = createLogger({ level: 'error', format: 'json', service: 'reports-test', silent: true });
  const portals: PortalApp[] = [];
  const portalWith = (s: StoreSettings) => {
    const p = testApp({
      db,
      logger,
      mysqlUrl: cdc.mysqlDb.url,
      pg: cdc.pool,
      stores: s,
      now: () => REPORT_NOW,
    });
    portals.push(p);
    return p;
  };
  const portal = portalWith(stores);
  return {
    cdc,
    db,
    portal,
    stores,
    sync,
    portalWith,
    async as(username, other) {
      const agent = request.agent((other ?? portal).app);
      const page = await agent.get('/login');
      await agent
        .post('/login')
        .type('form')
        .send({ username, password: PASSWORD, _csrf: csrfFrom(page.text) });
      return agent;
    },
    async close() {
      for (const p of portals) await p.close();
      for (const s of options.sinks) await s.close().catch(() => {});
      await db.destroy();
      await cdc.close();
    },
  };
}

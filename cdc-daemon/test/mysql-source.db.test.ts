import mysql from 'mysql2/promise';
import { serviceUrls } from '../../test/support/services';
import { planTable } from '../src/catalog/plan-table';
import { readCatalog } from '../src/catalog/read-catalog';
import { connectMysql, streamRange } from '../src/snapshot/mysql-source';
import { createCdcFixture, type CdcFixture } from './cdc-fixture';

let f: CdcFixture;
beforeAll(async () => {
  f = await createCdcFixture();
  await f.my.query('CREATE TABLE big (id INT PRIMARY KEY, s VARCHAR(200))');
  await f.my.query('INSERT INTO big VALUES ?', [Array.from({ length: 20_000 }, (_, i) => [i + 1, 'x'.repeat(200)])]);
});
afterAll(() => f.close());

test('a MySQL connection lost in the middle of a streamed read fails the read instead of hanging', async () => {
  const conn = await connectMysql(f.readOnlyUrl);
  const admin = await mysql.createConnection({ uri: serviceUrls().mysqlAdminUrl });
  try {
    const [schema] = await readCatalog(conn, { tables: ['big'], excludeTables: [] });
    const plan = planTable(schema!, { tinyint1AsBoolean: false });
    const read = (async () => {
      let rows = 0;
      for await (const batch of streamRange(conn, plan, null, null)) {
        rows += batch.length;
        // A slow consumer: the driver pauses the socket while batches wait, as under a busy COPY.
        if (rows === batch.length) await admin.query('KILL CONNECTION ?', [conn.threadId]);
        await new Promise((r) => setTimeout(r, 50));
      }
      return rows;
    })();
    const outcome = await Promise.race([
      read.then(
        (rows) => `ended after ${rows} rows`,
        (err: Error) => `failed: ${err.message}`,
      ),
      new Promise((r) => setTimeout(() => r('still waiting after 15 s'), 15_000)),
    ]);
    expect(outcome).toMatch(/^failed: /);
  } finally {
    await admin.end();
    conn.destroy();
  }
});

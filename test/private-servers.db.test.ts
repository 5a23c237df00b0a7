import mysql from 'mysql2/promise';
import { createMysqlDatabase, type TestDatabase } from './support/databases';
import { type PrivateServer, startPrivateMariadb } from './support/private-servers';

/**
 * A MariaDB that starts deletes every `#sql*` file its account may delete in its tmpdir: its own
 * leftovers after a crash, it assumes. With /tmp shared, each private server the fault tests start
 * (and restart) took the live temporary tables of the shared server, the one every other test file
 * uses: an `information_schema.COLUMNS` query of the daemon's then failed with "Error on delete of
 * '/tmp/#sql-temptable-….MAI' (Errcode: 2)" (one CI run, stop 56).
 */
describe('a private MariaDB', () => {
  let db: TestDatabase;
  let shared: mysql.Connection;
  let server: PrivateServer | undefined;

  beforeAll(async () => {
    db = await createMysqlDatabase();
    shared = await mysql.createConnection({ uri: db.url });
  });
  afterAll(async () => {
    await server?.destroy();
    await shared?.end();
    await db?.drop();
  });

  test("starting, and starting again after a crash, leaves the shared server's temporary tables alone", async () => {
    // On disk in the shared server's tmpdir, as an on-disk internal temporary table is.
    await shared.query('CREATE TEMPORARY TABLE held (id INT PRIMARY KEY, note TEXT) ENGINE=Aria');
    await shared.query("INSERT INTO held VALUES (1, 'kept')");

    server = await startPrivateMariadb();
    await server.stop('kill');
    await server.start();

    const [rows] = await shared.query<mysql.RowDataPacket[]>('SELECT id, note FROM held');
    expect(rows.map((r) => ({ ...r }))).toEqual([{ id: 1, note: 'kept' }]);
    await expect(shared.query('DROP TEMPORARY TABLE held')).resolves.toBeDefined();
  });
});

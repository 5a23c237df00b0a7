import { accessSync, chownSync, constants, existsSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { createMysqlDatabase, randomName, type TestDatabase } from './support/databases';
import { type PrivateServer, accountIds, startPrivateMariadb } from './support/private-servers';

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
    // Files such a table would leave, owned by the servers' account, in /tmp (where the shared
    // server kept them until stop 57) and in the shared server's tmpdir when it is on this machine.
    const [dirs] = await shared.query<mysql.RowDataPacket[]>('SELECT @@tmpdir AS dir');
    const probes = [...new Set([os.tmpdir(), ...String(dirs[0]!.dir).split(':')])]
      .filter((d) => writable(d))
      .map((d) => path.join(d, `#sql-${randomName('probe')}.MAI`));
    const owner = process.getuid?.() === 0 ? accountIds('mysql') : undefined;
    for (const file of probes) {
      writeFileSync(file, '');
      if (owner) chownSync(file, owner.uid, owner.gid);
    }
    try {
      server = await startPrivateMariadb();
      await server.stop('kill');
      await server.start();

      expect(probes.filter((file) => !existsSync(file))).toEqual([]);
      const [rows] = await shared.query<mysql.RowDataPacket[]>('SELECT id, note FROM held');
      expect(rows.map((r) => ({ ...r }))).toEqual([{ id: 1, note: 'kept' }]);
      await expect(shared.query('DROP TEMPORARY TABLE held')).resolves.toBeDefined();
    } finally {
      for (const file of probes) rmSync(file, { force: true });
    }
  });
});

/** A folder this process may write in (the shared server's may be elsewhere, or closed to us). */
function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

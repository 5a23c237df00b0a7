import type mysql from 'mysql2/promise';
import type { Pool } from 'pg';
import { migrateMysql } from '../../../webapp/src/db/migrate';
import { seedDatabase } from '../../../webapp/src/seed/seed-database';
import { SinkRelay } from '../../src/outbox/relay';
import type { RelaySettings } from '../../src/config';
import type { Sink } from '../../src/sinks/sink';
import { type CdcFixture, createCdcFixture, quietLogger } from '../cdc-fixture';
import { prng } from '../random-model';

/**
 * The seeded university in MySQL, mirrored to PostgreSQL by real cycles, with a relay for the sink
 * under test. `drain()` runs relay steps until the outbox is delivered (or the sink fails).
 */
export interface SinkFixture extends CdcFixture {
  relay: SinkRelay;
  drain: () => Promise<void>;
}

export const relaySettings: RelaySettings = {
  batchSize: 50,
  pollMs: 20,
  maxAttempts: 2,
  parkedRetryMs: 3_600_000,
  retentionMs: 3_600_000,
  backoffMs: 10,
  backoffMaxMs: 100,
};

export async function createSinkFixture(
  sink: Sink,
  students = 60,
  settings: Partial<RelaySettings> = {},
): Promise<SinkFixture> {
  const f = await createCdcFixture({ CDC_SKIP_HINTS: 'false' });
  await migrateMysql(f.mysqlDb.url);
  await seedDatabase(f.mysqlDb.url, { students, seed: 11, today: new Date('2026-11-21T00:00:00Z') });
  await f.cycle();
  await f.cycle();
  const relay = new SinkRelay(sink, f.pool, f.config.targetSchema, { ...relaySettings, ...settings }, quietLogger);
  return {
    ...f,
    relay,
    async drain() {
      for (let i = 0; i < 10_000; i++) if ((await relay.step()) === 0) return;
      throw new Error('the relay did not drain the outbox');
    },
    close: async () => {
      await sink.close().catch(() => {});
      await f.close();
    },
  };
}

const ids = async (my: mysql.Connection, sql: string) =>
  ((await my.query(sql))[0] as { id: number }[]).map((r) => Number(r.id));

/**
 * `n` random writes of the kinds the sinks care about: students renamed, moved, added and removed,
 * groups renamed, courses retitled and resized, enrollments added, dropped and deleted, lecture
 * materials edited, added and removed.
 */
export async function randomWrites(my: mysql.Connection, seed: number, n: number): Promise<void> {
  const r = prng(seed);
  for (let i = 0; i < n; i++) {
    const students = await ids(my, 'SELECT id FROM students');
    const groups = await ids(my, 'SELECT id FROM student_groups');
    const courses = await ids(my, 'SELECT id FROM courses');
    const kind = r.int(0, 11);
    const s = r.pick(students);
    switch (kind) {
      case 0:
        await my.query('UPDATE students SET first_name = ?, last_name = ? WHERE id = ?', [
          r.pick(['Ada', 'Émile', 'Zoë', 'Li']),
          r.pick(['Lovelace', "O'Brien", 'Nguyễn', 'Smith']),
          s,
        ]);
        break;
      case 1:
        await my.query('UPDATE students SET group_id = ? WHERE id = ?', [r.pick(groups), s]);
        break;
      case 2: {
        const num = `R${String(seed).padStart(3, '0')}${String(i).padStart(6, '0')}`.slice(0, 10);
        await my.query(
          "INSERT INTO students (group_id, student_number, first_name, last_name, email, enrolled_on) VALUES (?, ?, 'New', ?, ?, '2026-09-01')",
          [r.pick(groups), num, `Student${i}`, `${num.toLowerCase()}@example.edu`],
        );
        break;
      }
      case 3:
        await my.query('DELETE FROM attendance WHERE student_id = ?', [s]);
        await my.query('DELETE FROM enrollments WHERE student_id = ?', [s]);
        await my.query('DELETE FROM accounts WHERE student_id = ?', [s]);
        await my.query('DELETE FROM students WHERE id = ?', [s]);
        break;
      case 4:
        await my.query('UPDATE student_groups SET name = ? WHERE id = ?', [`G-${seed}-${i}`, r.pick(groups)]);
        break;
      case 5:
        await my.query('UPDATE courses SET title = ?, capacity = ? WHERE id = ?', [
          `Course ${seed}/${i}`,
          r.int(1, 40),
          r.pick(courses),
        ]);
        break;
      case 6:
        await my.query(
          "INSERT IGNORE INTO enrollments (student_id, course_id, status, enrolled_at) VALUES (?, ?, 'enrolled', '2026-11-20 10:00:00.000')",
          [s, r.pick(courses)],
        );
        break;
      case 7:
        await my.query(
          "UPDATE enrollments SET status = IF(status = 'enrolled', 'dropped', 'enrolled') WHERE student_id = ? LIMIT 1",
          [s],
        );
        break;
      case 8:
        await my.query('DELETE FROM enrollments WHERE student_id = ? LIMIT 1', [s]);
        break;
      case 9: {
        const m = await ids(my, 'SELECT id FROM lecture_materials');
        await my.query('UPDATE lecture_materials SET body = CONCAT(body, ?) WHERE id = ?', [
          ` Revised: photosynthesis ${i}.`,
          r.pick(m),
        ]);
        break;
      }
      case 10: {
        const lectures = await ids(my, 'SELECT id FROM lectures');
        if (r.chance(0.5))
          await my.query(
            "INSERT INTO lecture_materials (lecture_id, title, body) VALUES (?, 'Extra notes', 'Thermodynamics and entropy, revisited.')",
            [r.pick(lectures)],
          );
        else
          await my.query('DELETE FROM lecture_materials WHERE id = ?', [
            r.pick(await ids(my, 'SELECT id FROM lecture_materials')),
          ]);
        break;
      }
      case 11:
        // The portal's waitlists: a student joins a course's line, or leaves one (deleting a
        // student, above, takes them out of every line by the foreign key's cascade).
        if (r.chance(0.6))
          await my.query(
            "INSERT IGNORE INTO course_waitlist (course_id, student_id, joined_at) VALUES (?, ?, '2026-11-20 10:00:00.000')",
            [r.pick(courses), s],
          );
        else await my.query('DELETE FROM course_waitlist WHERE student_id = ? LIMIT 1', [s]);
        break;
    }
  }
}

/** The adapter a sink's contract test needs: its content now, and what the mirror says it should be. */
export interface StoreProbe {
  snapshot(): Promise<unknown>;
  expected(pool: Pool, schema: string): Promise<unknown>;
  /** How many deletion tombstones the store keeps (stores that keep them). */
  tombstones?(): Promise<number>;
}

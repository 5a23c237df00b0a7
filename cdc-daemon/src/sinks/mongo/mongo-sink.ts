import { type AnyBulkWriteOperation, type Db, MongoBulkWriteError, MongoClient } from 'mongodb';
import type { Logger } from '../../../../lib/logger';
import type { MirrorView } from '../../outbox/mirror-view';
import { Attribution } from '../attribution';
import { type EventFailure, type OutboxEvent, type Sink, idsOf } from '../sink';
import {
  type HierarchyRow,
  STUDENT_FIELDS,
  type StudentDocRow,
  UNIVERSITY_FIELDS,
  type UniversityRow,
  studentUpdate,
  tombstoneUpdate,
  universityUpdate,
} from './mongo-model';

type Doc = { _id: number; [k: string]: unknown };

const HIERARCHY_TABLES = ['universities', 'institutes', 'departments', 'specialties', 'student_groups'] as const;

const studentsSql = (m: MirrorView, where: string) =>
  `SELECT s.id, s.student_number, s.first_name, s.last_name, s.email, s.enrolled_on, s.group_id, g.name AS group_name, sp.id AS specialty_id, sp.name AS specialty_name,
          d.id AS department_id, i.id AS institute_id, i.university_id
     FROM ${m.table('students')} s LEFT JOIN ${m.table('student_groups')} g ON g.id = s.group_id LEFT JOIN ${m.table('specialties')} sp ON sp.id = g.specialty_id
     LEFT JOIN ${m.table('departments')} d ON d.id = sp.department_id LEFT JOIN ${m.table('institutes')} i ON i.id = d.institute_id ${where}`;

const hierarchySql = (m: MirrorView) =>
  `SELECT i.university_id, i.id AS institute_id, i.name AS institute_name, d.id AS department_id, d.name AS department_name,
          sp.id AS specialty_id, sp.code AS specialty_code, sp.name AS specialty_name, g.id AS group_id, g.name AS group_name, g.year_of_study,
          coalesce((SELECT count(*) FROM ${m.table('students')} s WHERE s.group_id = g.id), 0) AS students
     FROM ${m.table('institutes')} i LEFT JOIN ${m.table('departments')} d ON d.institute_id = i.id LEFT JOIN ${m.table('specialties')} sp ON sp.department_id = d.id
     LEFT JOIN ${m.table('student_groups')} g ON g.specialty_id = sp.id WHERE i.university_id = ANY($1)`;

/** University documents with the nested hierarchy and counts, and student documents; see mongo-model.ts. */
export class MongoSink implements Sink {
  readonly name = 'mongo' as const;
  readonly tables = [...HIERARCHY_TABLES, 'students'] as const;
  private readonly client: MongoClient;
  private readonly db: Db;

  constructor(
    url: string,
    private readonly logger: Logger,
  ) {
    this.client = new MongoClient(url, { serverSelectionTimeoutMS: 5_000, appName: 'campus-sync-cdc' });
    this.db = this.client.db();
  }

  async prepare(): Promise<void> {
    await this.client.connect();
    await this.db
      .collection('students')
      .createIndexes([
        { key: { group_id: 1 } },
        { key: { university_id: 1 } },
        { key: { last_name: 1, first_name: 1 } },
      ]);
    await this.db
      .collection('universities')
      .createIndexes([
        { key: { 'institutes.id': 1 } },
        { key: { 'institutes.departments.id': 1 } },
        { key: { 'institutes.departments.specialties.id': 1 } },
        { key: { 'institutes.departments.specialties.groups.id': 1 } },
      ]);
  }

  async ping(): Promise<void> {
    await this.db.command({ ping: 1 });
  }

  async apply(events: OutboxEvent[], m: MirrorView): Promise<EventFailure[]> {
    const why = new Attribution();
    const byTable = (t: string) => events.filter((e) => e.table === t).map((e) => e.id);

    const studentIds = idsOf(events, 'students');
    const students =
      studentIds.length > 0 ? await m.rows<StudentDocRow>(studentsSql(m, 'WHERE s.id = ANY($1)'), [studentIds]) : [];
    const found = new Map(students.map((s) => [s.id, s]));

    // Universities to rebuild: those of changed hierarchy rows and of students (now and before).
    const universities = new Map<number, number[]>();
    const touch = (u: number | null | undefined, ids: number[]) =>
      u !== null && u !== undefined && universities.set(u, [...(universities.get(u) ?? []), ...ids]);
    for (const id of idsOf(events, 'universities')) touch(id, byTable('universities'));
    const nowOf = await this.universitiesInMirror(m, events);
    const before = await this.universitiesInMongo(events, studentIds);
    for (const [u, table] of [...nowOf, ...before]) touch(u, byTable(table));

    const studentOps: AnyBulkWriteOperation<Doc>[] = [];
    for (const id of studentIds) {
      const s = found.get(id);
      const op = s ? studentUpdate(s, m.version) : tombstoneUpdate(id, m.version, STUDENT_FIELDS);
      studentOps.push({ updateOne: { ...op, upsert: true } as never });
      why.add(
        `students:${id}`,
        events.filter((e) => e.table === 'students' && Number(e.key.id) === id).map((e) => e.id),
      );
    }
    const uniOps = await this.universityOps(m, [...universities.keys()]);
    for (const [u, ids] of universities) why.add(`universities:${u}`, ids);

    const failed: [string, string][] = [];
    failed.push(
      ...(await this.bulk(
        'students',
        studentOps,
        studentIds.map((id) => `students:${id}`),
      )),
    );
    failed.push(
      ...(await this.bulk(
        'universities',
        uniOps.ops,
        uniOps.ids.map((id) => `universities:${id}`),
      )),
    );
    return why.failures(failed);
  }

  /** (university, table) of the hierarchy rows and students of `events` as the mirror has them now. */
  private async universitiesInMirror(m: MirrorView, events: OutboxEvent[]): Promise<[number, string][]> {
    const q = (table: string, sql: string) =>
      idsOf(events, table).length > 0
        ? m.rows<{ u: number }>(sql, [idsOf(events, table)]).then((r) => r.map((x) => [x.u, table] as [number, string]))
        : Promise.resolve([]);
    const I = m.table('institutes'),
      D = m.table('departments'),
      S = m.table('specialties'),
      G = m.table('student_groups'),
      ST = m.table('students');
    const parts = await Promise.all([
      q('institutes', `SELECT university_id AS u FROM ${I} WHERE id = ANY($1)`),
      q(
        'departments',
        `SELECT i.university_id AS u FROM ${D} d JOIN ${I} i ON i.id = d.institute_id WHERE d.id = ANY($1)`,
      ),
      q(
        'specialties',
        `SELECT i.university_id AS u FROM ${S} s JOIN ${D} d ON d.id = s.department_id JOIN ${I} i ON i.id = d.institute_id WHERE s.id = ANY($1)`,
      ),
      q(
        'student_groups',
        `SELECT i.university_id AS u FROM ${G} g JOIN ${S} s ON s.id = g.specialty_id JOIN ${D} d ON d.id = s.department_id JOIN ${I} i ON i.id = d.institute_id WHERE g.id = ANY($1)`,
      ),
      q(
        'students',
        `SELECT i.university_id AS u FROM ${ST} st JOIN ${G} g ON g.id = st.group_id JOIN ${S} s ON s.id = g.specialty_id JOIN ${D} d ON d.id = s.department_id JOIN ${I} i ON i.id = d.institute_id WHERE st.id = ANY($1)`,
      ),
    ]);
    return parts.flat();
  }

  /** The same, as MongoDB has them (rows deleted or moved since are found only here). */
  private async universitiesInMongo(events: OutboxEvent[], studentIds: number[]): Promise<[number, string][]> {
    const out: [number, string][] = [];
    const paths: [string, string][] = [
      ['institutes', 'institutes.id'],
      ['departments', 'institutes.departments.id'],
      ['specialties', 'institutes.departments.specialties.id'],
      ['student_groups', 'institutes.departments.specialties.groups.id'],
    ];
    for (const [table, path] of paths) {
      const ids = idsOf(events, table);
      if (ids.length === 0) continue;
      for (const d of await this.db
        .collection<Doc>('universities')
        .find({ [path]: { $in: ids } }, { projection: { _id: 1 } })
        .toArray())
        out.push([d._id, table]);
    }
    if (studentIds.length > 0) {
      for (const d of await this.db
        .collection<Doc>('students')
        .find({ _id: { $in: studentIds }, university_id: { $ne: null } }, { projection: { university_id: 1 } })
        .toArray())
        out.push([d.university_id as number, 'students']);
    }
    return out;
  }

  private async universityOps(
    m: MirrorView,
    ids: number[],
  ): Promise<{ ops: AnyBulkWriteOperation<Doc>[]; ids: number[] }> {
    if (ids.length === 0) return { ops: [], ids: [] };
    const unis = await m.rows<UniversityRow>(
      `SELECT id, name, short_name, city, founded_year FROM ${m.table('universities')} WHERE id = ANY($1)`,
      [ids],
    );
    const rows = await m.rows<HierarchyRow>(hierarchySql(m), [ids]);
    const ops: AnyBulkWriteOperation<Doc>[] = [];
    for (const id of ids) {
      const u = unis.find((x) => x.id === id);
      const op = u
        ? universityUpdate(
            u,
            rows.filter((r) => r.university_id === id),
            m.version,
          )
        : tombstoneUpdate(id, m.version, UNIVERSITY_FIELDS);
      ops.push({ updateOne: { ...op, upsert: true } as never });
    }
    return { ops, ids };
  }

  /** An unordered bulkWrite; returns the refused operations (by entity), stale ones excepted. */
  private async bulk(
    collection: string,
    ops: AnyBulkWriteOperation<Doc>[],
    entities: string[],
  ): Promise<[string, string][]> {
    if (ops.length === 0) return [];
    try {
      await this.db.collection<Doc>(collection).bulkWrite(ops, { ordered: false });
      return [];
    } catch (err) {
      if (!(err instanceof MongoBulkWriteError)) throw err;
      const errors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
      // Duplicate key on an upsert: the document holds a newer version; the write is stale.
      return errors
        .filter((e) => e.code !== 11000)
        .map((e) => [entities[e.index] ?? collection, e.errmsg ?? String(e.code)]);
    }
  }

  async bootstrap(m: MirrorView, onProgress?: (written: number) => void): Promise<number> {
    await this.db.collection('students').deleteMany({});
    await this.db.collection('universities').deleteMany({});
    let written = 0;
    for await (const page of m.pages<StudentDocRow>(studentsSql(m, 'ORDER BY s.id'), [], 5000)) {
      await this.db.collection<Doc>('students').bulkWrite(
        page.map((s) => ({ updateOne: { ...studentUpdate(s, m.version), upsert: true } as never })),
        { ordered: false },
      );
      written += page.length;
      onProgress?.(written);
    }
    for await (const page of m.pages<{ id: number }>(`SELECT id FROM ${m.table('universities')} ORDER BY id`, [], 50)) {
      const { ops } = await this.universityOps(
        m,
        page.map((u) => u.id),
      );
      if (ops.length > 0) await this.db.collection<Doc>('universities').bulkWrite(ops, { ordered: false });
      written += page.length;
      onProgress?.(written);
    }
    return written;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

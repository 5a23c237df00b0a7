import { type AnyBulkWriteOperation, type Db, MongoBulkWriteError, MongoClient } from 'mongodb';
import type { Logger } from '../../../../lib/logger';
import { SINK_META, type SinkMetaState } from '../../../../lib/store-layout';
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

    // Students: their own events, and everyone under a group, specialty, department or institute
    // that changed (their documents copy those rows' names and ids), as the mirror and as MongoDB
    // have them (a moved group's students are found under its old place only in MongoDB).
    const fannedOut = await this.studentsUnder(m, events);
    const studentIds = [...new Set([...idsOf(events, 'students'), ...fannedOut.keys()])];
    const students =
      studentIds.length > 0 ? await m.rows<StudentDocRow>(studentsSql(m, 'WHERE s.id = ANY($1)'), [studentIds]) : [];
    const found = new Map(students.map((s) => [s.id, s]));

    // Universities to rebuild: those of changed hierarchy rows and of students (now and before).
    // Each university is blamed only for the events of its own rows, so one refused document
    // parks the events that touch it and no others.
    const universities = new Map<number, number[]>();
    const eventsOf = (table: string, id: number) =>
      events.filter((e) => e.table === table && Number(e.key.id) === id).map((e) => e.id);
    const touch = (u: number | null | undefined, ids: number[]) =>
      u !== null && u !== undefined && universities.set(u, [...(universities.get(u) ?? []), ...ids]);
    for (const id of idsOf(events, 'universities')) touch(id, eventsOf('universities', id));
    const nowOf = await this.universitiesInMirror(m, events);
    const before = await this.universitiesInMongo(events, studentIds);
    for (const [u, table, id] of [...nowOf, ...before])
      touch(u, table === 'students' ? [...eventsOf(table, id), ...(fannedOut.get(id) ?? [])] : eventsOf(table, id));

    const studentOps: AnyBulkWriteOperation<Doc>[] = [];
    for (const id of studentIds) {
      const s = found.get(id);
      const op = s ? studentUpdate(s, m.version) : tombstoneUpdate(id, m.version, STUDENT_FIELDS);
      studentOps.push({ updateOne: { ...op, upsert: true } as never });
      why.add(`students:${id}`, [
        ...events.filter((e) => e.table === 'students' && Number(e.key.id) === id).map((e) => e.id),
        ...(fannedOut.get(id) ?? []),
      ]);
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
  private async universitiesInMirror(m: MirrorView, events: OutboxEvent[]): Promise<[number, string, number][]> {
    const q = (table: string, sql: string) =>
      idsOf(events, table).length > 0
        ? m
            .rows<{ id: number; u: number }>(sql, [idsOf(events, table)])
            .then((r) => r.map((x) => [x.u, table, x.id] as [number, string, number]))
        : Promise.resolve([]);
    const I = m.table('institutes'),
      D = m.table('departments'),
      S = m.table('specialties'),
      G = m.table('student_groups'),
      ST = m.table('students');
    const parts = await Promise.all([
      q('institutes', `SELECT id, university_id AS u FROM ${I} WHERE id = ANY($1)`),
      q(
        'departments',
        `SELECT d.id, i.university_id AS u FROM ${D} d JOIN ${I} i ON i.id = d.institute_id WHERE d.id = ANY($1)`,
      ),
      q(
        'specialties',
        `SELECT s.id, i.university_id AS u FROM ${S} s JOIN ${D} d ON d.id = s.department_id JOIN ${I} i ON i.id = d.institute_id WHERE s.id = ANY($1)`,
      ),
      q(
        'student_groups',
        `SELECT g.id, i.university_id AS u FROM ${G} g JOIN ${S} s ON s.id = g.specialty_id JOIN ${D} d ON d.id = s.department_id JOIN ${I} i ON i.id = d.institute_id WHERE g.id = ANY($1)`,
      ),
      q(
        'students',
        `SELECT st.id, i.university_id AS u FROM ${ST} st JOIN ${G} g ON g.id = st.group_id JOIN ${S} s ON s.id = g.specialty_id JOIN ${D} d ON d.id = s.department_id JOIN ${I} i ON i.id = d.institute_id WHERE st.id = ANY($1)`,
      ),
    ]);
    return parts.flat();
  }

  /** The same, as MongoDB has them (rows deleted or moved since are found only here). */
  private async universitiesInMongo(events: OutboxEvent[], studentIds: number[]): Promise<[number, string, number][]> {
    const out: [number, string, number][] = [];
    const paths: [string, string][] = [
      ['institutes', 'institutes.id'],
      ['departments', 'institutes.departments.id'],
      ['specialties', 'institutes.departments.specialties.id'],
      ['student_groups', 'institutes.departments.specialties.groups.id'],
    ];
    for (const [table, path] of paths) {
      const ids = idsOf(events, table);
      if (ids.length === 0) continue;
      // One query per level; which of the ids each university holds is read from the document.
      for (const d of await this.db
        .collection<Doc>('universities')
        .find({ [path]: { $in: ids } }, { projection: { _id: 1, [path]: 1 } })
        .toArray()) {
        const held = new Set(valuesAt(d, path.split('.')));
        for (const id of ids) if (held.has(id)) out.push([d._id, table, id]);
      }
    }
    if (studentIds.length > 0) {
      for (const d of await this.db
        .collection<Doc>('students')
        .find({ _id: { $in: studentIds }, university_id: { $ne: null } }, { projection: { university_id: 1 } })
        .toArray())
        out.push([d.university_id as number, 'students', d._id]);
    }
    return out;
  }

  /**
   * Students whose documents copy a changed group, specialty, department or institute, with the
   * events that make them change: as the mirror has them and as MongoDB has them.
   */
  private async studentsUnder(m: MirrorView, events: OutboxEvent[]): Promise<Map<number, number[]>> {
    const out = new Map<number, number[]>();
    const levels = [
      ['student_groups', 'g.id', 'group_id'],
      ['specialties', 'sp.id', 'specialty_id'],
      ['departments', 'd.id', 'department_id'],
      ['institutes', 'i.id', 'institute_id'],
    ] as const;
    // One query per level on each side (not per changed row); each student is attributed to the
    // events of the row it sits under, read from its own copied id.
    for (const [table, column, field] of levels) {
      const ids = idsOf(events, table);
      if (ids.length === 0) continue;
      const eventsOf = (id: number) =>
        events.filter((e) => e.table === table && Number(e.key.id) === id).map((e) => e.id);
      const inMirror = await m.rows<Record<string, number>>(studentsSql(m, `WHERE ${column} = ANY($1)`), [ids]);
      const inMongo = await this.db
        .collection<Doc>('students')
        .find({ [field]: { $in: ids }, _deleted: { $ne: true } }, { projection: { _id: 1, [field]: 1 } })
        .toArray();
      for (const [student, under] of [
        ...inMirror.map((r) => [r.id!, r[field]!] as const),
        ...inMongo.map((d) => [d._id, d[field] as number] as const),
      ])
        out.set(student, [...(out.get(student) ?? []), ...eventsOf(under)]);
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
      const errors = (Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors]).filter(Boolean);
      // No per-write errors (network, server selection, not primary, write concern, permission):
      // nothing is known to be written, so the whole batch fails and the cursor stays.
      if (errors.length === 0 || err.writeConcernError) throw err;
      // Duplicate key on an upsert: the document holds a newer version; the write is stale.
      return errors
        .filter((e) => e.code !== 11000)
        .map((e) => [entities[e.index] ?? collection, e.errmsg ?? String(e.code)]);
    }
  }

  async pruneTombstones(version: number): Promise<number> {
    let n = 0;
    for (const c of ['students', 'universities'])
      n += (await this.db.collection<Doc>(c).deleteMany({ _deleted: true, _v: { $lt: version } })).deletedCount;
    return n;
  }

  /** A store without the bootstrap record lost its data (or never had any). */
  async lostState(): Promise<boolean> {
    return (await this.meta().findOne({ _id: SINK_META.id })) === null;
  }

  private meta() {
    return this.db.collection<{ _id: string; [k: string]: unknown }>(SINK_META.mongoCollection);
  }

  private async setMeta(fields: { state: SinkMetaState; [k: string]: unknown }): Promise<void> {
    await this.meta().updateOne({ _id: SINK_META.id }, { $set: fields }, { upsert: true });
  }

  async bootstrap(m: MirrorView, onProgress?: (written: number) => void): Promise<number> {
    // Readers see 'bootstrapping' while the collections are empty or partly filled.
    await this.setMeta({ state: 'bootstrapping', started_at: new Date().toISOString() });
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
    await this.setMeta({ state: 'ready', bootstrap_version: m.version, bootstrapped_at: new Date().toISOString() });
    return written;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** The values at a dotted path of a document, through nested arrays (MongoDB's own path rule). */
function valuesAt(value: unknown, path: string[]): unknown[] {
  if (Array.isArray(value)) return value.flatMap((v) => valuesAt(v, path));
  if (path.length === 0) return [value];
  if (value === null || typeof value !== 'object') return [];
  return valuesAt((value as Record<string, unknown>)[path[0]!], path.slice(1));
}

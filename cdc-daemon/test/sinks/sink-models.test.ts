import { Attribution } from '../../src/sinks/attribution';
import { bulkFailures, deleteLines, indexLines, INDEX_TEMPLATES } from '../../src/sinks/elasticsearch/es-model';
import {
  nestHierarchy,
  studentUpdate,
  tombstoneUpdate,
  universityUpdate,
  versionFilter,
  type HierarchyRow,
} from '../../src/sinks/mongo/mongo-model';
import {
  constraintStatements,
  deleteNodesCypher,
  enrollmentRow,
  NODE_SPECS,
  nodeRow,
  upsertNodesCypher,
} from '../../src/sinks/neo4j/neo4j-model';
import {
  courseFields,
  keys,
  nameIndexMember,
  namePrefixRange,
  seatsLeft,
  studentFields,
} from '../../src/sinks/redis/redis-model';
import { idsOf, type OutboxEvent } from '../../src/sinks/sink';
import { MongoBulkWriteError } from 'mongodb';
import { MongoSink } from '../../src/sinks/mongo/mongo-sink';
import { isUnavailable } from '../../src/sinks/neo4j/neo4j-sink';
import {
  CAMPUS_ENGLISH,
  POSTGRES_ENGLISH_STOP_WORDS,
  type englishAnalysis,
} from '../../src/sinks/elasticsearch/english-analysis';
import { quietLogger } from '../cdc-fixture';

const ev = (
  id: number,
  table: string,
  key: Record<string, unknown>,
  after: Record<string, unknown> | null = null,
): OutboxEvent => ({ id, syncId: 1, table, op: after ? 'update' : 'delete', key, after });

describe('redis model', () => {
  test('student hash fields, with the name index member', () => {
    const f = studentFields({
      id: 7,
      student_number: 'S000000007',
      first_name: 'Zoë',
      last_name: "O'Brien",
      email: 'z@x.edu',
      group_id: 3,
      group_name: 'CS-21',
      specialty_id: 2,
      specialty_name: 'Computer Science',
      specialty_code: 'CS',
    });
    const h = Object.fromEntries(Array.from({ length: f.length / 2 }, (_, i) => [f[2 * i], f[2 * i + 1]]));
    expect(h).toEqual({
      id: '7',
      student_number: 'S000000007',
      first_name: 'Zoë',
      last_name: "O'Brien",
      name: "Zoë O'Brien",
      email: 'z@x.edu',
      group_id: '3',
      group: 'CS-21',
      specialty_id: '2',
      specialty: 'Computer Science',
      specialty_code: 'CS',
      _name_key: "o'brien zoë\u00007",
    });
  });
  test('name prefix ranges are case-insensitive and bounded', () => {
    expect(nameIndexMember('Smith', 'Ann', 4)).toBe('smith ann\u00004');
    const [lo, hi] = namePrefixRange('SMI');
    expect(lo).toBe('[smi');
    expect('smith ann\u00004' > lo.slice(1) && '[smith ann' < hi).toBe(true);
  });
  test('seats left never go below zero; course fields carry them', () => {
    expect(seatsLeft({ capacity: 10, enrolled: 12 })).toBe(0);
    expect(
      courseFields({ id: 1, code: 'C1', title: 'T', year: 2026, semester: 1, capacity: 10, enrolled: 3 }),
    ).toContain('7');
  });
  test('keys live under the prefix', () => {
    const k = keys('p:');
    expect([k.student(1), k.groupIndex(2), k.course(3), k.version('student'), k.meta]).toEqual([
      'p:student:1',
      'p:idx:students:group:2',
      'p:course:3',
      'p:cdc:version:student',
      'p:cdc:meta',
    ]);
  });
});

describe('mongo model', () => {
  const row = (o: Partial<HierarchyRow>): HierarchyRow => ({
    university_id: 1,
    institute_id: null,
    institute_name: null,
    department_id: null,
    department_name: null,
    specialty_id: null,
    specialty_code: null,
    specialty_name: null,
    group_id: null,
    group_name: null,
    year_of_study: null,
    students: 0,
    ...o,
  });
  test('nests the hierarchy with counts summed up every level, childless levels kept', () => {
    const h = nestHierarchy([
      row({
        institute_id: 1,
        institute_name: 'I1',
        department_id: 10,
        department_name: 'D10',
        specialty_id: 100,
        specialty_code: 'S',
        specialty_name: 'Spec',
        group_id: 1001,
        group_name: 'G2',
        year_of_study: 1,
        students: 5,
      }),
      row({
        institute_id: 1,
        institute_name: 'I1',
        department_id: 10,
        department_name: 'D10',
        specialty_id: 100,
        specialty_code: 'S',
        specialty_name: 'Spec',
        group_id: 1000,
        group_name: 'G1',
        year_of_study: 1,
        students: 3,
      }),
      row({ institute_id: 1, institute_name: 'I1', department_id: 11, department_name: 'D11' }),
      row({ institute_id: 2, institute_name: 'I2' }),
    ]);
    expect(h.students).toBe(8);
    expect(h.institutes.map((i) => [i.id, i.students])).toEqual([
      [1, 8],
      [2, 0],
    ]);
    expect(h.institutes[0]!.departments.map((d) => [d.id, d.students, d.specialties.length])).toEqual([
      [10, 8, 1],
      [11, 0, 0],
    ]);
    expect(h.institutes[0]!.departments[0]!.specialties[0]!.groups.map((g) => [g.id, g.students])).toEqual([
      [1000, 3],
      [1001, 5],
    ]);
  });
  test('updates are partial and version-guarded; deletes leave a tombstone', () => {
    expect(versionFilter(5, 9)).toEqual({ _id: 5, $or: [{ _v: { $lte: 9 } }, { _v: { $exists: false } }] });
    const u = universityUpdate({ id: 1, name: 'U', short_name: 'U1', city: 'C', founded_year: 1950 }, [], 9);
    expect(u.update.$set).toMatchObject({ name: 'U', students: 0, institutes: [], _v: 9 });
    expect(
      Object.keys(
        studentUpdate(
          {
            id: 3,
            student_number: 'n',
            first_name: 'a',
            last_name: 'b',
            email: 'e',
            enrolled_on: '2026-09-01',
            group_id: 1,
            group_name: 'g',
            specialty_id: 1,
            specialty_name: 's',
            department_id: 1,
            institute_id: 1,
            university_id: 1,
          },
          9,
        ).update.$set,
      ),
    ).not.toContain('id');
    expect(tombstoneUpdate(3, 10, ['email']).update).toEqual({
      $set: { _deleted: true, _v: 10 },
      $unset: { email: '' },
    });
  });
});

describe('neo4j model', () => {
  test('a uniqueness constraint per label, created first', () => {
    const c = constraintStatements();
    for (const s of NODE_SPECS)
      expect(c).toContain(
        `CREATE CONSTRAINT ${s.label.toLowerCase()}_id IF NOT EXISTS FOR (n:${s.label}) REQUIRE n.id IS UNIQUE`,
      );
  });
  test('upserts UNWIND rows, guard the version and replace parent relationships', () => {
    const spec = NODE_SPECS.find((s) => s.table === 'schedule')!;
    const q = upsertNodesCypher(spec);
    expect(q).toMatch(/^UNWIND \$rows AS r/);
    expect(q).toContain('MERGE (n:ScheduleSlot {id: toInteger(r.id)})');
    expect(q).toContain('WHERE coalesce(n._v, -1) <= r.v');
    expect(q).toContain('MERGE (p)-[:SCHEDULED_AS]->(n)');
    expect(q).toContain('MERGE (n)-[:FOR_GROUP]->(p)');
    expect(q).toContain('MERGE (n)-[:IN_CLASSROOM]->(p)');
    expect(deleteNodesCypher('Student')).toContain('DETACH DELETE x');
  });
  test('row parameters: properties, relation ids and the tombstone key', () => {
    const spec = NODE_SPECS.find((s) => s.table === 'students')!;
    expect(
      nodeRow(
        spec,
        { id: 4, group_id: 2, student_number: 'n', first_name: 'a', last_name: 'b', email: 'e', enrolled_on: 'x' },
        7,
      ),
    ).toEqual({
      id: 4,
      v: 7,
      tkey: 'Student:4',
      props: { student_number: 'n', first_name: 'a', last_name: 'b', email: 'e' },
      rel: { group_id: 2 },
    });
    expect(
      enrollmentRow({ id: 9, student_id: 4, course_id: 5, status: 'enrolled', enrolled_at: 't', dropped_at: null }, 7),
    ).toMatchObject({ id: 9, student_id: 4, course_id: 5, tkey: 'ENROLLED_IN:9' });
  });
});

describe('elasticsearch model', () => {
  test('bulk lines carry the external version', () => {
    expect(indexLines('courses', [{ id: 3 }], 12)).toEqual([
      { index: { _index: 'courses', _id: '3', version: 12, version_type: 'external' } },
      { id: 3 },
    ]);
    expect(deleteLines('courses', [4], 12)).toEqual([
      { delete: { _index: 'courses', _id: '4', version: 12, version_type: 'external' } },
    ]);
  });
  test('a version conflict or a missing delete is not a failure; a mapping error is', () => {
    expect(
      bulkFailures([
        { index: { _index: 'c', _id: '1', status: 201 } },
        { index: { _index: 'c', _id: '2', status: 409, error: { type: 'version_conflict_engine_exception' } } },
        { delete: { _index: 'c', _id: '3', status: 404 } },
        {
          index: {
            _index: 'c',
            _id: '4',
            status: 400,
            error: { type: 'strict_dynamic_mapping_exception', reason: 'nope' },
          },
        },
      ]),
    ).toEqual([['c:4', '400 strict_dynamic_mapping_exception: nope']]);
  });
  test("materials are analysed as English text the way PostgreSQL's english configuration does", () => {
    expect(
      (INDEX_TEMPLATES.lecture_materials.mappings.properties as Record<string, { analyzer?: string }>).body!.analyzer,
    ).toBe(CAMPUS_ENGLISH);
    const analysis = INDEX_TEMPLATES.lecture_materials.settings.analysis as typeof englishAnalysis;
    expect(analysis.analyzer[CAMPUS_ENGLISH].filter).toEqual([
      'lowercase',
      'campus_english_stop',
      'campus_english_stem',
    ]);
    // PostgreSQL's list (tsearch_data/english.stop), not Lucene's 33 words.
    expect(POSTGRES_ENGLISH_STOP_WORDS).toHaveLength(127);
    expect(POSTGRES_ENGLISH_STOP_WORDS).toEqual(expect.arrayContaining(['about', 'between', 'ourselves', 'should']));
  });
});

describe('events and attribution', () => {
  test('ids by table, each once', () => {
    const events = [
      ev(1, 'students', { id: 2 }, { id: 2, group_id: 5 }),
      ev(2, 'students', { id: 2 }),
      ev(3, 'courses', { id: 9 }, { id: 9 }),
    ];
    expect(idsOf(events, 'students')).toEqual([2]);
    expect(idsOf(events, 'courses')).toEqual([9]);
  });
  test('a refused entity is reported against every event behind it, once', () => {
    const a = new Attribution();
    a.add('student:1', [10, 11]);
    a.add('course:2', [11, 12]);
    expect(
      a.failures([
        ['student:1', 'bad'],
        ['course:2', 'worse'],
      ]),
    ).toEqual([
      { eventId: 10, error: 'student:1: bad' },
      { eventId: 11, error: 'student:1: bad' },
      { eventId: 12, error: 'course:2: worse' },
    ]);
  });
});

describe('whole-request failures', () => {
  test('neo4j: an unreachable server backs off; a transient error the driver could not clear is a refusal', () => {
    expect(isUnavailable(Object.assign(new Error('Could not perform discovery'), { code: 'ServiceUnavailable' }))).toBe(
      true,
    );
    expect(isUnavailable(new Error('connect ECONNREFUSED 127.0.0.1:7687'))).toBe(true);
    // Refused (counted as attempts, then parked): a deadlock that never clears, a constraint.
    const transient = Object.assign(new Error('deadlock'), { code: 'Neo.TransientError.Transaction.DeadlockDetected' });
    expect(isUnavailable(transient)).toBe(false);
    const constraint = Object.assign(new Error('already exists'), {
      code: 'Neo.ClientError.Schema.ConstraintValidationFailed',
    });
    expect(isUnavailable(constraint)).toBe(false);
  });

  test('mongo: a bulk error without per-write errors fails the whole batch (nothing is known to be written)', async () => {
    const sink = new MongoSink('mongodb://127.0.0.1:1/none', quietLogger);
    const error = new MongoBulkWriteError({ message: 'not primary', code: 10107 }, {
      insertedCount: 0,
      matchedCount: 0,
      modifiedCount: 0,
      deletedCount: 0,
      upsertedCount: 0,
    } as never);
    (sink as unknown as { db: unknown }).db = {
      collection: () => ({
        bulkWrite: async () => {
          throw error;
        },
      }),
    };
    const bulk = (sink as unknown as { bulk: (c: string, ops: unknown[], e: string[]) => Promise<unknown> }).bulk.bind(
      sink,
    );
    await expect(bulk('students', [{ updateOne: {} }], ['students:1'])).rejects.toBe(error);
    await sink.close();
  });
});

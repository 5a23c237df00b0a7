import { Client as EsClient } from '@elastic/elasticsearch';
import { MongoClient } from 'mongodb';
import neo4j from 'neo4j-driver';
import type { Pool } from 'pg';
import { ElasticsearchSink } from '../../src/sinks/elasticsearch/es-sink';
import { type HierarchyRow, nestHierarchy } from '../../src/sinks/mongo/mongo-model';
import { MongoSink } from '../../src/sinks/mongo/mongo-sink';
import { Neo4jSink } from '../../src/sinks/neo4j/neo4j-sink';
import type { Sink } from '../../src/sinks/sink';
import { quietLogger } from '../cdc-fixture';
import { randomName } from '../../../test/support/databases';
import type { LiveStore } from '../../../test/support/stores/live-stores';
import type { StoreProbe } from './sink-fixture';

/**
 * A sink on a live store, with a probe that reads back what the store holds and computes the same
 * from the mirror with its own SQL, and `wipe()`, which deletes everything the sink wrote (as a
 * store that lost its data). Each gets its own database (MongoDB), index prefix (Elasticsearch);
 * Neo4j Community has one database, so its store must be the caller's own.
 */
export interface LiveSink {
  sink: Sink;
  probe: StoreProbe;
  wipe: () => Promise<void>;
  close: () => Promise<void>;
}

const q = (pool: Pool, sql: string) => pool.query(sql).then((r) => r.rows);
const strip = <T extends Record<string, unknown>>(o: T) =>
  Object.fromEntries(Object.entries(o).filter(([k]) => k !== '_v'));

export async function mongoSink(store: LiveStore): Promise<LiveSink> {
  const url = `${store.url.replace(/\/$/, '')}/${randomName('cs_t')}`;
  const client = new MongoClient(url);
  const db = client.db();
  return {
    sink: new MongoSink(url, quietLogger),
    // Everything the sink wrote, its bootstrap record included: as if the server lost its data.
    wipe: () => db.dropDatabase().then(() => {}),
    close: () => client.close(),
    probe: {
      tombstones: async () =>
        (await db.collection('students').countDocuments({ _deleted: true })) +
        (await db.collection('universities').countDocuments({ _deleted: true })),

      async snapshot() {
        const students = (
          await db
            .collection('students')
            .find({ _deleted: { $ne: true } })
            .sort({ _id: 1 })
            .toArray()
        ).map(strip);
        const universities = (
          await db
            .collection('universities')
            .find({ _deleted: { $ne: true } })
            .sort({ _id: 1 })
            .toArray()
        ).map(strip);
        return { students, universities };
      },
      async expected(pool: Pool, schema: string) {
        const t = (n: string) => `"${schema}"."${n}"`;
        const students = await q(
          pool,
          `SELECT s.id AS _id, s.student_number, s.first_name, s.last_name, s.email, to_char(s.enrolled_on, 'YYYY-MM-DD') AS enrolled_on, s.group_id::int, g.name AS group_name, sp.id::int AS specialty_id, sp.name AS specialty_name, d.id::int AS department_id, i.id::int AS institute_id, i.university_id::int
          FROM ${t('students')} s JOIN ${t('student_groups')} g ON g.id = s.group_id JOIN ${t('specialties')} sp ON sp.id = g.specialty_id JOIN ${t('departments')} d ON d.id = sp.department_id JOIN ${t('institutes')} i ON i.id = d.institute_id ORDER BY s.id`,
        );
        const unis = await q(
          pool,
          `SELECT id::int, name, short_name, city, founded_year::int FROM ${t('universities')} ORDER BY id`,
        );
        const rows = (await q(
          pool,
          `SELECT i.university_id::int, i.id::int AS institute_id, i.name AS institute_name, d.id::int AS department_id, d.name AS department_name, sp.id::int AS specialty_id, sp.code AS specialty_code, sp.name AS specialty_name, g.id::int AS group_id, g.name AS group_name, g.year_of_study::int,
          (SELECT count(*) FROM ${t('students')} s WHERE s.group_id = g.id)::int AS students
          FROM ${t('institutes')} i LEFT JOIN ${t('departments')} d ON d.institute_id = i.id LEFT JOIN ${t('specialties')} sp ON sp.department_id = d.id LEFT JOIN ${t('student_groups')} g ON g.specialty_id = sp.id`,
        )) as HierarchyRow[];
        const universities = unis.map((u) => ({
          _id: u.id,
          name: u.name,
          short_name: u.short_name,
          city: u.city,
          founded_year: u.founded_year,
          ...nestHierarchy(rows.filter((r) => r.university_id === u.id)),
        }));
        return { students: students.map((s) => ({ ...s, _id: Number(s._id) })), universities };
      },
    },
  };
}

export async function neo4jSink(store: LiveStore): Promise<LiveSink> {
  const url = store.url;
  const auth = { user: store.user!, password: store.password! };
  // Numbers as numbers: the driver's lossless Integer objects would never equal the mirror's.
  const driver = neo4j.driver(url, neo4j.auth.basic(auth.user, auth.password), { disableLosslessIntegers: true });
  const read = async (cypher: string) => (await driver.executeQuery(cypher)).records.map((r) => r.toObject());
  return {
    sink: new Neo4jSink({ url, ...auth }, quietLogger),
    wipe: () => driver.executeQuery('MATCH (n) DETACH DELETE n').then(() => {}),
    close: () => driver.close(),
    probe: {
      tombstones: async () =>
        Number((await driver.executeQuery('MATCH (t:CdcTombstone) RETURN count(t) AS n')).records[0]!.get('n')),

      async snapshot() {
        return {
          students: await read(
            'MATCH (g:Group)-[:HAS_STUDENT]->(s:Student) RETURN toInteger(s.id) AS id, s.last_name AS last_name, toInteger(g.id) AS group_id ORDER BY id',
          ),
          slots: await read(
            'MATCH (l:Lecture)-[:SCHEDULED_AS]->(x:ScheduleSlot)-[:FOR_GROUP]->(g:Group), (x)-[:IN_CLASSROOM]->(c:Classroom) RETURN toInteger(x.id) AS id, toInteger(l.id) AS lecture_id, toInteger(g.id) AS group_id, toInteger(c.id) AS classroom_id ORDER BY id',
          ),
          enrollments: await read(
            'MATCH (s:Student)-[e:ENROLLED_IN]->(c:Course) RETURN toInteger(e.id) AS id, toInteger(s.id) AS student_id, toInteger(c.id) AS course_id, e.status AS status ORDER BY id',
          ),
          courses: await read(
            'MATCH (d:Department)-[:OFFERS]->(c:Course) RETURN toInteger(c.id) AS id, c.title AS title, toInteger(c.capacity) AS capacity, toInteger(d.id) AS department_id ORDER BY id',
          ),
        };
      },
      async expected(pool: Pool, schema: string) {
        const t = (n: string) => `"${schema}"."${n}"`;
        return {
          students: await q(pool, `SELECT id::int, last_name, group_id::int FROM ${t('students')} ORDER BY id`),
          slots: await q(
            pool,
            `SELECT id::int, lecture_id::int, group_id::int, classroom_id::int FROM ${t('schedule')} ORDER BY id`,
          ),
          enrollments: await q(
            pool,
            `SELECT id::int, student_id::int, course_id::int, status FROM ${t('enrollments')} ORDER BY id`,
          ),
          courses: await q(
            pool,
            `SELECT id::int, title, capacity::int, department_id::int FROM ${t('courses')} ORDER BY id`,
          ),
        };
      },
    },
  };
}

export async function elasticsearchSink(store: LiveStore): Promise<LiveSink> {
  const url = store.url;
  const prefix = `${randomName('cs_t')}_`;
  const es = new EsClient({ node: url });
  const all = async (index: string) => {
    await es.indices.refresh({ index });
    const r = await es.search({ index, size: 10_000, sort: [{ id: 'asc' }], query: { match_all: {} } });
    return r.hits.hits.map((h) => h._source);
  };
  return {
    sink: new ElasticsearchSink(url, prefix, quietLogger),
    // By name: Elasticsearch 8 refuses wildcard deletes (action.destructive_requires_name).
    wipe: () =>
      es.indices
        .delete({ index: ['courses', 'lecture_materials', 'cdc_meta'].map((n) => `${prefix}${n}`) }, { ignore: [404] })
        .then(() => {}),
    close: () => es.close(),
    probe: {
      async snapshot() {
        return {
          courses: (await all(`${prefix}courses`)).map((d) => ({
            id: (d as { id: number }).id,
            title: (d as { title: string }).title,
          })),
          materials: (await all(`${prefix}lecture_materials`)).map((d) => ({
            id: (d as { id: number }).id,
            body: (d as { body: string }).body,
            course_title: (d as { course_title: string }).course_title,
          })),
        };
      },
      async expected(pool: Pool, schema: string) {
        const t = (n: string) => `"${schema}"."${n}"`;
        return {
          courses: await q(pool, `SELECT id::int, title FROM ${t('courses')} ORDER BY id`),
          materials: await q(
            pool,
            `SELECT m.id::int, m.body, c.title AS course_title FROM ${t('lecture_materials')} m JOIN ${t('lectures')} l ON l.id = m.lecture_id JOIN ${t('courses')} c ON c.id = l.course_id ORDER BY m.id`,
          ),
        };
      },
    },
  };
}

export const LIVE_SINKS = { mongo: mongoSink, neo4j: neo4jSink, elasticsearch: elasticsearchSink } as const;

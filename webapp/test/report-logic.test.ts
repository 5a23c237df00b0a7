import { loadWebappConfig } from '../src/config';
import { sortRows } from '../src/http/handlers/report-handlers';
import { deriveAudience } from '../src/reports/classroom-audience-report';
import { defaultTerm } from '../src/reports/group-hours-report';
import { summarise } from '../src/reports/hierarchy-report';

/** The reports' pure parts: flags, term choice, sorting, summaries, and the portal's store settings. */

const lecture = (over: Partial<Parameters<typeof deriveAudience>[0][number]> = {}) => ({
  course_id: 1,
  course_code: 'C1',
  course_title: 'Optics',
  lecture_id: 10,
  lecture_number: 1,
  lecture_title: 'Lecture 1',
  required_equipment: ['projector'],
  classrooms: [{ id: 2, building: 'A', number: '101', capacity: 30, equipment: ['whiteboard', 'projector'] }],
  expected: 30,
  ...over,
});

describe('classroom audience flags', () => {
  test('enough seats and every required item: not flagged', () => {
    expect(deriveAudience([lecture()])[0]).toMatchObject({
      capacity: 30,
      short_capacity: false,
      missing_equipment: [],
    });
  });

  test('one student more than the seats of all its rooms together: capacity short', () => {
    const rows = deriveAudience([
      lecture({
        expected: 61,
        classrooms: [
          lecture().classrooms[0]!,
          { id: 3, building: 'B', number: '7', capacity: 30, equipment: ['projector'] },
        ],
      }),
    ]);
    expect(rows[0]).toMatchObject({ capacity: 60, short_capacity: true });
  });

  test('an item one room lacks is missing, once, sorted; equipment as a MySQL SET string is understood', () => {
    const rows = deriveAudience([
      lecture({
        required_equipment: 'projector,audio' as unknown as string[],
        classrooms: [
          { id: 5, building: 'A', number: '1', capacity: 50, equipment: 'audio' as unknown as string[] },
          { id: 4, building: 'A', number: '2', capacity: 50, equipment: [] },
        ],
      }),
    ]);
    expect(rows[0]!.missing_equipment).toEqual(['audio', 'projector']);
    expect(rows[0]!.classrooms.map((c) => c.id)).toEqual([4, 5]);
  });

  test('a lecture with no slot: no rooms, no audience, not flagged for seats', () => {
    expect(deriveAudience([lecture({ classrooms: [], expected: 0 })])[0]).toMatchObject({
      capacity: 0,
      short_capacity: false,
      missing_equipment: [],
    });
  });

  test('rows are ordered by course code, then lecture number', () => {
    const rows = deriveAudience([
      lecture({ course_code: 'C2', lecture_id: 1 }),
      lecture({ lecture_number: 2, lecture_id: 2 }),
      lecture({ lecture_id: 3 }),
    ]);
    expect(rows.map((r) => r.lecture_id)).toEqual([3, 2, 1]);
  });
});

describe('default term of the group-hours report', () => {
  const terms = [
    { year: 2025, semester: 2, starts_on: '2026-02-01', ends_on: '2026-06-30' },
    { year: 2026, semester: 1, starts_on: '2026-09-01', ends_on: '2026-12-31' },
  ];
  test.each([
    ['2026-03-15', '2025-2'],
    ['2026-07-15', '2026-1'],
    ['2026-12-31', '2026-1'],
    ['2027-03-01', '2026-1'],
    ['2025-01-01', '2025-2'],
  ])('on %s it is %s', (today, expected) => {
    const t = defaultTerm(terms, today)!;
    expect(`${t.year}-${t.semester}`).toBe(expected);
  });
  test('no terms: none', () => expect(defaultTerm([], '2026-01-01')).toBeUndefined());
});

describe('sorting a report table', () => {
  const table = {
    columns: [
      { key: 'name', label: 'Name' },
      { key: 'percent', label: '%', numeric: true },
    ],
    rows: [
      { name: 'Émile', percent: 9 },
      { name: 'ada', percent: null },
      { name: 'Zoë', percent: 10 },
    ],
  };
  test('numbers as numbers, nulls last in both directions', () => {
    expect(sortRows(table, 'percent', 'asc').rows.map((r) => r.percent)).toEqual([9, 10, null]);
    expect(sortRows(table, 'percent', 'desc').rows.map((r) => r.percent)).toEqual([10, 9, null]);
  });
  test('text by locale, not by code point', () => {
    expect(sortRows(table, 'name', 'asc').rows.map((r) => r.name)).toEqual(['ada', 'Émile', 'Zoë']);
  });
  test('an unknown column keeps the report order', () => {
    expect(sortRows(table, 'password', 'asc')).toEqual({ rows: table.rows, sort: '', dir: 'asc' });
  });
});

test('a university summary counts every level', () => {
  const u = {
    id: 1,
    name: 'U',
    short_name: 'U1',
    city: 'X',
    students: 5,
    institutes: [
      {
        id: 1,
        name: 'I',
        students: 5,
        departments: [
          {
            id: 1,
            name: 'D',
            students: 5,
            specialties: [
              {
                id: 1,
                code: 'S',
                name: 'S',
                students: 5,
                groups: [
                  { id: 1, name: 'G1', year_of_study: 1, students: 2 },
                  { id: 2, name: 'G2', year_of_study: 1, students: 3 },
                ],
              },
            ],
          },
          { id: 2, name: 'D2', students: 0, specialties: [] },
        ],
      },
    ],
  };
  expect(summarise(u)).toEqual({
    id: 1,
    name: 'U',
    short_name: 'U1',
    city: 'X',
    students: 5,
    institutes: 1,
    departments: 2,
    specialties: 1,
    groups: 2,
  });
});

describe('the portal reads the stores the daemon writes', () => {
  const base = { MYSQL_URL: 'mysql://u:p@db:3306/campus', SESSION_SECRET: 's'.repeat(32) };
  test('each store is optional; set, it carries the same prefixes and schema as the daemon', () => {
    expect(loadWebappConfig(base).stores).toEqual({
      schema: 'public',
      redis: undefined,
      mongo: undefined,
      neo4j: undefined,
      elasticsearch: undefined,
    });
    const c = loadWebappConfig({
      ...base,
      REDIS_URL: 'redis://r:6379',
      CDC_REDIS_PREFIX: 'cs:',
      MONGO_URL: 'mongodb://m/campus',
      NEO4J_URL: 'bolt://n:7687',
      NEO4J_PASSWORD: 'pw',
      ELASTICSEARCH_URL: 'http://e:9200',
      CDC_ES_INDEX_PREFIX: 'cs_',
      CDC_TARGET_SCHEMA: 'mirror',
    });
    expect(c.stores).toEqual({
      schema: 'mirror',
      redis: { url: 'redis://r:6379', prefix: 'cs:' },
      mongo: { url: 'mongodb://m/campus' },
      neo4j: { url: 'bolt://n:7687', user: 'neo4j', password: 'pw' },
      elasticsearch: { url: 'http://e:9200', indexPrefix: 'cs_' },
    });
  });
  test('a wrong URL scheme or schema name stops the portal with a clear message', () => {
    expect(() => loadWebappConfig({ ...base, MONGO_URL: 'http://m' })).toThrow(/MONGO_URL/);
    expect(() => loadWebappConfig({ ...base, CDC_TARGET_SCHEMA: 'Robert"; DROP' })).toThrow(/CDC_TARGET_SCHEMA/);
  });
});

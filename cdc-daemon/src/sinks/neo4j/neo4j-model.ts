/**
 * The graph the Neo4j sink keeps (the classroom-audience report reads exactly this). Every node has
 * `id` (the MySQL key) and `_v` (the version written); relationships to parents are replaced when
 * a row moves. A deleted node leaves a `CdcTombstone {key, _v}` so an older write cannot recreate it.
 */

export interface Relation {
  /** Relationship type. */
  type: string;
  /** Label of the node at the other end, found (or created empty) by its id. */
  label: string;
  /** Column of this row holding the other node's id. */
  column: string;
  /** 'in': (other)-[type]->(this); 'out': (this)-[type]->(other). */
  direction: 'in' | 'out';
}

export interface NodeSpec {
  table: string;
  label: string;
  /** Columns copied as properties (ids of relations are relationships, not properties). */
  properties: string[];
  relations: Relation[];
}

export const NODE_SPECS: NodeSpec[] = [
  {
    table: 'universities',
    label: 'University',
    properties: ['name', 'short_name', 'city', 'founded_year'],
    relations: [],
  },
  {
    table: 'institutes',
    label: 'Institute',
    properties: ['name'],
    relations: [{ type: 'HAS_INSTITUTE', label: 'University', column: 'university_id', direction: 'in' }],
  },
  {
    table: 'departments',
    label: 'Department',
    properties: ['name'],
    relations: [{ type: 'HAS_DEPARTMENT', label: 'Institute', column: 'institute_id', direction: 'in' }],
  },
  {
    table: 'specialties',
    label: 'Specialty',
    properties: ['code', 'name'],
    relations: [{ type: 'HAS_SPECIALTY', label: 'Department', column: 'department_id', direction: 'in' }],
  },
  {
    table: 'student_groups',
    label: 'Group',
    properties: ['name', 'year_of_study'],
    relations: [{ type: 'HAS_GROUP', label: 'Specialty', column: 'specialty_id', direction: 'in' }],
  },
  {
    table: 'students',
    label: 'Student',
    properties: ['student_number', 'first_name', 'last_name', 'email'],
    relations: [{ type: 'HAS_STUDENT', label: 'Group', column: 'group_id', direction: 'in' }],
  },
  {
    table: 'courses',
    label: 'Course',
    properties: ['code', 'title', 'credits', 'year', 'semester', 'capacity', 'required_equipment'],
    relations: [{ type: 'OFFERS', label: 'Department', column: 'department_id', direction: 'in' }],
  },
  {
    table: 'lectures',
    label: 'Lecture',
    properties: ['number', 'title'],
    relations: [{ type: 'HAS_LECTURE', label: 'Course', column: 'course_id', direction: 'in' }],
  },
  {
    table: 'classrooms',
    label: 'Classroom',
    properties: ['building', 'number', 'capacity', 'equipment'],
    relations: [],
  },
  {
    table: 'schedule',
    label: 'ScheduleSlot',
    properties: ['starts_at', 'ends_at'],
    relations: [
      { type: 'SCHEDULED_AS', label: 'Lecture', column: 'lecture_id', direction: 'in' },
      { type: 'FOR_GROUP', label: 'Group', column: 'group_id', direction: 'out' },
      { type: 'IN_CLASSROOM', label: 'Classroom', column: 'classroom_id', direction: 'out' },
    ],
  },
];

/** Enrollments are relationships (Student)-[:ENROLLED_IN {id, status, ...}]->(Course), keyed by id. */
export const ENROLLMENT_TABLE = 'enrollments';
export const ENROLLMENT_PROPERTIES = ['status', 'enrolled_at', 'dropped_at'];

export const LABELS = [...NODE_SPECS.map((s) => s.label), 'CdcTombstone'];

/** Uniqueness constraints, created before the first write (they also index the MERGE lookups). */
export function constraintStatements(): string[] {
  return [
    ...NODE_SPECS.map(
      (s) => `CREATE CONSTRAINT ${s.label.toLowerCase()}_id IF NOT EXISTS FOR (n:${s.label}) REQUIRE n.id IS UNIQUE`,
    ),
    'CREATE CONSTRAINT cdc_tombstone_key IF NOT EXISTS FOR (t:CdcTombstone) REQUIRE t.key IS UNIQUE',
    'CREATE INDEX enrolled_in_id IF NOT EXISTS FOR ()-[e:ENROLLED_IN]-() ON (e.id)',
  ];
}

export const tombstoneKey = (label: string, id: number) => `${label}:${id}`;

/** The parameters of one row: its id, version, properties and the ids of its relations. */
export function nodeRow(spec: NodeSpec, row: Record<string, unknown>, version: number) {
  return {
    id: Number(row.id),
    v: version,
    tkey: tombstoneKey(spec.label, Number(row.id)),
    props: Object.fromEntries(spec.properties.map((p) => [p, row[p] ?? null])),
    rel: Object.fromEntries(
      spec.relations.map((r) => [
        r.column,
        row[r.column] === null || row[r.column] === undefined ? null : Number(row[r.column]),
      ]),
    ),
  };
}

export function deleteRow(label: string, id: number, version: number) {
  return { id, v: version, tkey: tombstoneKey(label, id) };
}

/** Clears a tombstone older than the write, and stops the row when a newer one exists. */
const TOMBSTONE_GUARD = `OPTIONAL MATCH (t:CdcTombstone {key: r.tkey})
WITH r, t WHERE t IS NULL OR t._v <= r.v
FOREACH (x IN CASE WHEN t IS NULL THEN [] ELSE [t] END | DELETE x)
WITH r`;

/** `UNWIND $rows` upsert of a node table: guarded by version, parents' relationships replaced. */
export function upsertNodesCypher(spec: NodeSpec): string {
  const rels = spec.relations.map((r) => {
    const pattern = r.direction === 'in' ? `(n)<-[o:${r.type}]-(:${r.label})` : `(n)-[o:${r.type}]->(:${r.label})`;
    const create = r.direction === 'in' ? `MERGE (p)-[:${r.type}]->(n)` : `MERGE (n)-[:${r.type}]->(p)`;
    return `FOREACH (x IN [${pattern} | o] | DELETE x)
FOREACH (pid IN CASE WHEN r.rel.${r.column} IS NULL THEN [] ELSE [r.rel.${r.column}] END | MERGE (p:${r.label} {id: toInteger(pid)}) ${create})`;
  });
  return [
    'UNWIND $rows AS r',
    TOMBSTONE_GUARD,
    `MERGE (n:${spec.label} {id: toInteger(r.id)})`,
    'WITH r, n WHERE coalesce(n._v, -1) <= r.v',
    'SET n += r.props, n._v = r.v',
    ...rels,
    'RETURN count(*) AS written',
  ].join('\n');
}

/** `UNWIND $rows` delete: the node and its relationships go, a tombstone keeps the version. */
export function deleteNodesCypher(label: string): string {
  return `UNWIND $rows AS r
OPTIONAL MATCH (n:${label} {id: toInteger(r.id)})
WITH r, n WHERE n IS NULL OR coalesce(n._v, -1) <= r.v
FOREACH (x IN CASE WHEN n IS NULL THEN [] ELSE [n] END | DETACH DELETE x)
MERGE (t:CdcTombstone {key: r.tkey})
SET t._v = CASE WHEN coalesce(t._v, -1) > r.v THEN t._v ELSE r.v END
RETURN count(*) AS written`;
}

export function enrollmentRow(row: Record<string, unknown>, version: number) {
  return {
    id: Number(row.id),
    v: version,
    tkey: tombstoneKey('ENROLLED_IN', Number(row.id)),
    student_id: Number(row.student_id),
    course_id: Number(row.course_id),
    props: Object.fromEntries(ENROLLMENT_PROPERTIES.map((p) => [p, row[p] ?? null])),
  };
}

export const UPSERT_ENROLLMENTS = `UNWIND $rows AS r
${TOMBSTONE_GUARD}
OPTIONAL MATCH ()-[old:ENROLLED_IN {id: toInteger(r.id)}]->()
WITH r, collect(old) AS olds
WHERE all(o IN olds WHERE coalesce(o._v, -1) <= r.v)
FOREACH (x IN olds | DELETE x)
MERGE (s:Student {id: toInteger(r.student_id)})
MERGE (c:Course {id: toInteger(r.course_id)})
CREATE (s)-[e:ENROLLED_IN]->(c)
SET e += r.props, e.id = toInteger(r.id), e._v = r.v
RETURN count(*) AS written`;

export const DELETE_ENROLLMENTS = `UNWIND $rows AS r
OPTIONAL MATCH ()-[old:ENROLLED_IN {id: toInteger(r.id)}]->()
WITH r, collect(old) AS olds
WHERE all(o IN olds WHERE coalesce(o._v, -1) <= r.v)
FOREACH (x IN olds | DELETE x)
MERGE (t:CdcTombstone {key: r.tkey})
SET t._v = CASE WHEN coalesce(t._v, -1) > r.v THEN t._v ELSE r.v END
RETURN count(*) AS written`;

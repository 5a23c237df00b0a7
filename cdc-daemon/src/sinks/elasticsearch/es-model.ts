/**
 * What the Elasticsearch sink indexes (the attendance report searches `lecture_materials`):
 *   lecture_materials  one document per material: title and body analysed as English the way
 *                      PostgreSQL does it (english-analysis.ts), with its lecture's and course's fields copied in
 *   courses            the catalogue: code, title, description, term, credits, capacity, equipment
 * Document ids are the MySQL ids; every write carries `version` (the mirror's) with
 * `version_type: external`, so Elasticsearch itself refuses an older write (409: stale).
 */

import { ES_INDEX_NAMES, type EsIndexName } from '../../../../lib/store-layout';
import { CAMPUS_ENGLISH, englishAnalysis } from './english-analysis';

export const INDEX_NAMES = ES_INDEX_NAMES;
/** Bumped when the templates change in a way existing indices cannot take (2: PostgreSQL's English analysis, float credits). */
export const ES_LAYOUT = 2;
export type IndexName = EsIndexName;

const keyword = { type: 'keyword' } as const;
const english = {
  type: 'text',
  analyzer: CAMPUS_ENGLISH,
  fields: { raw: { type: 'keyword', ignore_above: 256 } },
} as const;
const englishText = { type: 'text', analyzer: CAMPUS_ENGLISH } as const;
// One node is enough for these indices; deletes are remembered (for version checks) for as long as a relay may lag.
const settings = {
  number_of_shards: 1,
  number_of_replicas: 0,
  'index.gc_deletes': '1h',
  analysis: englishAnalysis,
};

export const INDEX_TEMPLATES: Record<
  IndexName,
  { settings: Record<string, unknown>; mappings: Record<string, unknown> }
> = {
  lecture_materials: {
    settings,
    mappings: {
      dynamic: 'strict',
      properties: {
        id: { type: 'integer' },
        title: english,
        body: englishText,
        lecture_id: { type: 'integer' },
        lecture_number: { type: 'integer' },
        lecture_title: english,
        course_id: { type: 'integer' },
        course_code: keyword,
        course_title: english,
        year: { type: 'short' },
        semester: { type: 'byte' },
      },
    },
  },
  courses: {
    settings,
    mappings: {
      dynamic: 'strict',
      properties: {
        id: { type: 'integer' },
        code: keyword,
        title: english,
        description: englishText,
        // Half steps (0.5, 1.5, ...) are exact in a float; scaled_float needs the mapper-extras module.
        credits: { type: 'float' },
        year: { type: 'short' },
        semester: { type: 'byte' },
        capacity: { type: 'integer' },
        department_id: { type: 'integer' },
        department: english,
        required_equipment: keyword,
      },
    },
  },
};

export interface MaterialRow {
  id: number;
  title: string;
  body: string;
  lecture_id: number;
  lecture_number: number;
  lecture_title: string;
  course_id: number;
  course_code: string;
  course_title: string;
  year: number;
  semester: number;
}

export interface CourseDocRow {
  id: number;
  code: string;
  title: string;
  description: string | null;
  credits: number;
  year: number;
  semester: number;
  capacity: number;
  department_id: number;
  department: string | null;
  required_equipment: string[];
}

export type BulkLine = Record<string, unknown>;

/** The bulk body lines of index operations (action, then document). */
export function indexLines(index: string, docs: { id: number }[], version: number): BulkLine[] {
  return docs.flatMap((d) => [{ index: { _index: index, _id: String(d.id), version, version_type: 'external' } }, d]);
}

export function deleteLines(index: string, ids: number[], version: number): BulkLine[] {
  return ids.map((id) => ({ delete: { _index: index, _id: String(id), version, version_type: 'external' } }));
}

interface BulkItem {
  [action: string]:
    | { _index?: string; _id?: string | null; status: number; error?: { type?: string; reason?: string | null } }
    | undefined;
}

/**
 * The refused items of a bulk response, as `[index:id, reason]`. A version conflict (409) means the
 * document already holds this or a newer version; a delete of a missing document (404) has nothing to
 * do: neither is a failure.
 */
export function bulkFailures(items: BulkItem[]): [string, string][] {
  const out: [string, string][] = [];
  for (const item of items) {
    const [action, r] = Object.entries(item)[0] ?? [];
    if (!r || r.status < 300 || r.status === 409 || (action === 'delete' && r.status === 404)) continue;
    out.push([`${r._index}:${r._id}`, `${r.status} ${r.error?.type ?? ''}: ${r.error?.reason ?? ''}`]);
  }
  return out;
}

/** The operations of a bulk body, each its action line and (for index) its document. */
export function bulkOperations(lines: BulkLine[]): BulkLine[][] {
  const ops: BulkLine[][] = [];
  for (const line of lines) {
    const action = Object.keys(line)[0];
    if (action === 'index' || action === 'delete' || action === 'create' || action === 'update') ops.push([line]);
    else ops[ops.length - 1]!.push(line);
  }
  return ops;
}

/** The entity (`index:id`) an operation writes, as bulkFailures names it. */
export function operationEntity(op: BulkLine[]): string {
  const meta = Object.values(op[0]!)[0] as { _index: string; _id: string };
  return `${meta._index}:${meta._id}`;
}

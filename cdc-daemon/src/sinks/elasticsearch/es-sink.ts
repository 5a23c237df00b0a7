import { Client } from '@elastic/elasticsearch';
import type { Logger } from '../../../../lib/logger';
import { errorMessage } from '../../../../lib/app-error';
import type { MirrorView } from '../../outbox/mirror-view';
import { Attribution } from '../attribution';
import { type EventFailure, type OutboxEvent, type Sink, idsOf } from '../sink';
import { SINK_META, type SinkMetaState, esIndex } from '../../../../lib/store-layout';
import {
  type BulkLine,
  type CourseDocRow,
  INDEX_NAMES,
  INDEX_TEMPLATES,
  type IndexName,
  type MaterialRow,
  ES_LAYOUT,
  bulkFailures,
  bulkOperations,
  deleteLines,
  indexLines,
  operationEntity,
} from './es-model';

const materialsSql = (m: MirrorView, where: string) =>
  `SELECT lm.id, lm.title, lm.body, l.id AS lecture_id, l.number AS lecture_number, l.title AS lecture_title, c.id AS course_id, c.code AS course_code, c.title AS course_title, c.year, c.semester
     FROM ${m.table('lecture_materials')} lm JOIN ${m.table('lectures')} l ON l.id = lm.lecture_id JOIN ${m.table('courses')} c ON c.id = l.course_id ${where}`;

const coursesSql = (m: MirrorView, where: string) =>
  `SELECT c.id, c.code, c.title, c.description, c.credits, c.year, c.semester, c.capacity, c.department_id, d.name AS department, c.required_equipment
     FROM ${m.table('courses')} c LEFT JOIN ${m.table('departments')} d ON d.id = c.department_id ${where}`;

/** Full-text indices of lecture materials and the catalogue; see es-model.ts. */
export class ElasticsearchSink implements Sink {
  readonly name = 'elasticsearch' as const;
  readonly tables = ['lecture_materials', 'lectures', 'courses', 'departments'] as const;
  private readonly client: Client;

  constructor(
    url: string,
    private readonly indexPrefix: string,
    private readonly logger: Logger,
  ) {
    this.client = new Client({ node: url, requestTimeout: 30_000, maxRetries: 1 });
  }

  index(name: IndexName): string {
    return esIndex(this.indexPrefix, name);
  }

  /** Index templates first, then the indices (a template applies to indices created after it). */
  async prepare(): Promise<void> {
    for (const name of INDEX_NAMES) {
      await this.client.indices.putIndexTemplate({
        name: this.index(name),
        index_patterns: [this.index(name)],
        template: INDEX_TEMPLATES[name] as never,
      });
      if (!(await this.client.indices.exists({ index: this.index(name) }))) {
        await this.client.indices.create({ index: this.index(name) }, { ignore: [400] });
      }
    }
  }

  async ping(): Promise<void> {
    await this.client.ping();
  }

  async apply(events: OutboxEvent[], m: MirrorView): Promise<EventFailure[]> {
    const why = new Attribution();
    const of = (table: string, id: number) =>
      events.filter((e) => e.table === table && Number(e.key.id) === id).map((e) => e.id);
    const materialIds = new Set(idsOf(events, 'lecture_materials'));
    for (const id of materialIds) why.add(`${this.index('lecture_materials')}:${id}`, of('lecture_materials', id));
    const lectureIds = idsOf(events, 'lectures');
    const courseIds = new Set(idsOf(events, 'courses'));
    const departmentIds = idsOf(events, 'departments');
    if (departmentIds.length > 0) {
      for (const r of await m.rows<{ id: number; department_id: number }>(
        `SELECT id, department_id FROM ${m.table('courses')} WHERE department_id = ANY($1)`,
        [departmentIds],
      )) {
        courseIds.add(r.id);
        why.add(`${this.index('courses')}:${r.id}`, of('departments', r.department_id));
      }
    }
    for (const id of courseIds) why.add(`${this.index('courses')}:${id}`, of('courses', id));
    // Materials copy their lecture's and course's fields: those change with them.
    if (lectureIds.length + courseIds.size > 0) {
      const rows = await m.rows<{ id: number; lecture_id: number; course_id: number }>(
        `SELECT lm.id, l.id AS lecture_id, l.course_id FROM ${m.table('lecture_materials')} lm JOIN ${m.table('lectures')} l ON l.id = lm.lecture_id WHERE l.id = ANY($1) OR l.course_id = ANY($2)`,
        [lectureIds, [...courseIds]],
      );
      for (const r of rows) {
        materialIds.add(r.id);
        why.add(`${this.index('lecture_materials')}:${r.id}`, [
          ...of('lectures', r.lecture_id),
          ...of('courses', r.course_id),
        ]);
      }
    }
    const materials =
      materialIds.size > 0
        ? await m.rows<MaterialRow>(materialsSql(m, 'WHERE lm.id = ANY($1)'), [[...materialIds]])
        : [];
    const courses =
      courseIds.size > 0 ? await m.rows<CourseDocRow>(coursesSql(m, 'WHERE c.id = ANY($1)'), [[...courseIds]]) : [];
    const lines: BulkLine[] = [
      ...indexLines(this.index('lecture_materials'), materials, m.version),
      ...deleteLines(
        this.index('lecture_materials'),
        [...materialIds].filter((id) => !materials.some((r) => r.id === id)),
        m.version,
      ),
      ...indexLines(this.index('courses'), courses, m.version),
      ...deleteLines(
        this.index('courses'),
        [...courseIds].filter((id) => !courses.some((r) => r.id === id)),
        m.version,
      ),
    ];
    return why.failures(await this.bulk(lines));
  }

  /**
   * One bulk request; returns the refused documents. A refusal of the request as a whole (413 over
   * http.max_content_length, 400) is narrowed down by halving until it names documents, which are
   * then refused like any other (and parked by the relay), instead of failing the batch for ever.
   */
  private async bulk(lines: BulkLine[]): Promise<[string, string][]> {
    if (lines.length === 0) return [];
    try {
      const res = await this.client.bulk({ operations: lines });
      return res.errors ? bulkFailures(res.items as never) : [];
    } catch (err) {
      const status = (err as { meta?: { statusCode?: number } }).meta?.statusCode;
      if (status !== 413 && status !== 400) throw err;
      const ops = bulkOperations(lines);
      if (ops.length === 1)
        return [[operationEntity(ops[0]!), `Elasticsearch refused the request (${status}): ${errorMessage(err)}`]];
      const half = Math.ceil(ops.length / 2);
      return [...(await this.bulk(ops.slice(0, half).flat())), ...(await this.bulk(ops.slice(half).flat()))];
    }
  }

  /**
   * A store without the bootstrap record, or with indices of an older layout (the analysis
   * changed), is bootstrapped again.
   */
  async lostState(): Promise<boolean> {
    const meta = await this.readMeta();
    return meta === null || meta.layout !== ES_LAYOUT;
  }

  private async readMeta(): Promise<Record<string, unknown> | null> {
    const r = await this.client.get(
      { index: SINK_META.esIndex(this.indexPrefix), id: SINK_META.id },
      { ignore: [404] },
    );
    return r.found ? ((r._source as Record<string, unknown>) ?? null) : null;
  }

  private async setMeta(fields: { state: SinkMetaState; [k: string]: unknown }): Promise<void> {
    await this.client.index({
      index: SINK_META.esIndex(this.indexPrefix),
      id: SINK_META.id,
      document: { ...fields, layout: ES_LAYOUT },
      refresh: true,
    });
  }

  async bootstrap(m: MirrorView, onProgress?: (written: number) => void): Promise<number> {
    // Readers see 'bootstrapping' while the indices are empty or partly filled.
    await this.setMeta({ state: 'bootstrapping', started_at: new Date().toISOString() });
    for (const name of INDEX_NAMES) await this.client.indices.delete({ index: this.index(name) }, { ignore: [404] });
    await this.prepare();
    let written = 0;
    const pages: [IndexName, AsyncIterable<{ id: number }[]>][] = [
      ['courses', m.pages<CourseDocRow>(coursesSql(m, 'ORDER BY c.id'), [], 1000)],
      ['lecture_materials', m.pages<MaterialRow>(materialsSql(m, 'ORDER BY lm.id'), [], 1000)],
    ];
    for (const [name, source] of pages) {
      for await (const page of source) {
        const failures = await this.bulk(indexLines(this.index(name), page, m.version));
        if (failures.length > 0)
          throw new Error(`Elasticsearch refused ${failures.length} documents of ${name}: ${failures[0]![1]}`);
        written += page.length;
        onProgress?.(written);
      }
    }
    await this.client.indices.refresh({ index: INDEX_NAMES.map((n) => this.index(n)) });
    await this.setMeta({ state: 'ready', bootstrap_version: m.version, bootstrapped_at: new Date().toISOString() });
    return written;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

import neo4j, { type Driver } from 'neo4j-driver';
import type { Logger } from '../../../../lib/logger';
import { SINK_META, type SinkMetaState } from '../../../../lib/store-layout';
import type { MirrorView } from '../../outbox/mirror-view';
import { Attribution } from '../attribution';
import { type EventFailure, type OutboxEvent, type Sink, idsOf } from '../sink';
import {
  DELETE_ENROLLMENTS,
  ENROLLMENT_TABLE,
  LABELS,
  NODE_SPECS,
  type NodeSpec,
  UPSERT_ENROLLMENTS,
  constraintStatements,
  deleteNodesCypher,
  deleteRow,
  enrollmentRow,
  nodeRow,
  upsertNodesCypher,
} from './neo4j-model';

const BATCH = 2000;

/** The university graph; see neo4j-model.ts. One `UNWIND $rows` statement per table and operation. */
export class Neo4jSink implements Sink {
  readonly name = 'neo4j' as const;
  readonly tables = [...NODE_SPECS.map((s) => s.table), ENROLLMENT_TABLE];
  private readonly driver: Driver;

  constructor(
    settings: { url: string; user: string; password?: string },
    private readonly logger: Logger,
  ) {
    this.driver = neo4j.driver(settings.url, neo4j.auth.basic(settings.user, settings.password ?? ''), {
      connectionTimeout: 5_000,
      maxTransactionRetryTime: 5_000,
    });
  }

  async prepare(): Promise<void> {
    await this.ping();
    for (const statement of constraintStatements()) await this.driver.executeQuery(statement);
  }

  async ping(): Promise<void> {
    await this.driver.verifyConnectivity();
  }

  private run(cypher: string, rows: unknown[]) {
    return this.driver.executeQuery(cypher, { rows }, { routing: neo4j.routing.WRITE });
  }

  async apply(events: OutboxEvent[], m: MirrorView): Promise<EventFailure[]> {
    const why = new Attribution();
    const failed: [string, string][] = [];
    // Parents before children, so a child's MERGE finds its parent's node (created empty otherwise).
    for (const spec of [...NODE_SPECS, null]) {
      const table = spec?.table ?? ENROLLMENT_TABLE;
      const ids = idsOf(events, table);
      if (ids.length === 0) continue;
      why.add(
        table,
        events.filter((e) => e.table === table).map((e) => e.id),
      );
      const rows = await m.rows<Record<string, unknown>>(`SELECT * FROM ${m.table(table)} WHERE id = ANY($1)`, [ids]);
      try {
        await this.write(
          spec,
          rows,
          ids.filter((id) => !rows.some((r) => Number(r.id) === id)),
          m.version,
        );
      } catch (err) {
        if (isUnavailable(err)) throw err;
        failed.push([table, err instanceof Error ? err.message : String(err)]);
      }
    }
    return why.failures(failed);
  }

  private async write(
    spec: NodeSpec | null,
    rows: Record<string, unknown>[],
    deleted: number[],
    version: number,
  ): Promise<void> {
    if (spec) {
      if (rows.length > 0)
        await this.run(
          upsertNodesCypher(spec),
          rows.map((r) => nodeRow(spec, r, version)),
        );
      if (deleted.length > 0)
        await this.run(
          deleteNodesCypher(spec.label),
          deleted.map((id) => deleteRow(spec.label, id, version)),
        );
    } else {
      if (rows.length > 0)
        await this.run(
          UPSERT_ENROLLMENTS,
          rows.map((r) => enrollmentRow(r, version)),
        );
      if (deleted.length > 0)
        await this.run(
          DELETE_ENROLLMENTS,
          deleted.map((id) => deleteRow('ENROLLED_IN', id, version)),
        );
    }
  }

  async pruneTombstones(version: number): Promise<number> {
    let total = 0;
    for (;;) {
      const r = await this.driver.executeQuery(
        'MATCH (t:CdcTombstone) WHERE t._v < $v WITH t LIMIT 10000 DELETE t RETURN count(*) AS n',
        { v: version },
        { routing: neo4j.routing.WRITE },
      );
      const n = Number(r.records[0]?.get('n') ?? 0);
      total += n;
      if (n < 10_000) return total;
    }
  }

  /** A graph without the bootstrap record lost its data (or never had any). */
  async lostState(): Promise<boolean> {
    const r = await this.driver.executeQuery(`MATCH (m:${SINK_META.neo4jLabel} {id: $id}) RETURN m.state AS state`, {
      id: SINK_META.id,
    });
    return r.records.length === 0;
  }

  private async setMeta(fields: { state: SinkMetaState; [k: string]: unknown }): Promise<void> {
    await this.driver.executeQuery(`MERGE (m:${SINK_META.neo4jLabel} {id: $id}) SET m += $fields`, {
      id: SINK_META.id,
      fields,
    });
  }

  async bootstrap(m: MirrorView, onProgress?: (written: number) => void): Promise<number> {
    // Readers see 'bootstrapping' while the graph is empty or partly filled.
    await this.setMeta({ state: 'bootstrapping', started_at: new Date().toISOString() });
    // Everything this sink wrote, in batches (a single DETACH DELETE of a large graph exhausts memory).
    // (CALL ... IN TRANSACTIONS needs an auto-commit transaction: session.run, not executeQuery.)
    const session = this.driver.session();
    try {
      await session.run(
        'MATCH (n) WHERE any(l IN labels(n) WHERE l IN $labels) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS',
        { labels: LABELS },
      );
    } finally {
      await session.close();
    }
    let written = 0;
    for (const spec of [...NODE_SPECS, null]) {
      const table = spec?.table ?? ENROLLMENT_TABLE;
      for await (const page of m.pages<Record<string, unknown>>(
        `SELECT * FROM ${m.table(table)} ORDER BY id`,
        [],
        BATCH,
      )) {
        await this.write(spec, page, [], m.version);
        written += page.length;
        onProgress?.(written);
      }
    }
    await this.setMeta({ state: 'ready', bootstrap_version: m.version, bootstrapped_at: new Date().toISOString() });
    return written;
  }

  async close(): Promise<void> {
    await this.driver.close();
  }
}

/**
 * Whether a write failed because Neo4j cannot be reached (the relay backs off and retries with
 * the cursor unmoved, for as long as it takes) rather than because it refused the write. A
 * transient error (deadlock, lock timeout) that the driver's own retries (maxTransactionRetryTime)
 * did not clear counts as a refusal: the relay tries the batch CDC_SINK_MAX_ATTEMPTS times and
 * then parks it, instead of backing off for ever.
 */
export function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: string })?.code ?? '';
  if (code.startsWith('Neo.')) return false;
  return (
    code === 'ServiceUnavailable' ||
    code === 'SessionExpired' ||
    /ECONNREFUSED|ETIMEDOUT|ECONNRESET|connection/i.test(String((err as Error)?.message))
  );
}

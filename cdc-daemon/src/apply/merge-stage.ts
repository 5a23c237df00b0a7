import type { PoolClient } from 'pg';
import type { TablePlan } from '../catalog/plan-table';
import { pgi } from './pg-copy';
import { ROW_HASH_COLUMN, historyName, mirrorName, type MirrorOptions } from './mirror-names';
import { type HistoryBackfill, writeOwedFirstVersions } from './history-backfill';

/**
 * The stage: a temporary table per mirrored table and cycle, filled by COPY with the diff's
 * lines and merged into the mirror by a few set-based statements. It disappears at commit.
 *   _op  i insert, u update, d delete
 */
export function stageName(plan: TablePlan): string {
  return pgi(`_stage_${plan.name}`.slice(0, 63));
}

export async function createStage(client: PoolClient, plan: TablePlan): Promise<string> {
  const name = stageName(plan);
  const cols = plan.columns.map((c) => `${pgi(c.name)} ${c.pgType}`);
  if (!plan.keyed) cols.push(`${pgi(ROW_HASH_COLUMN)} bigint`);
  await client.query(
    `CREATE TEMP TABLE IF NOT EXISTS ${name} (_op "char" NOT NULL, _key text NOT NULL, _chunk bigint NOT NULL, _hash bigint NOT NULL, _copies integer NOT NULL, ${cols.join(', ')}) ON COMMIT DROP`,
  );
  await client.query(`TRUNCATE ${name}`);
  return name;
}

/** Which kinds of change the stage holds, so statements with nothing to do are not run. */
export interface StagedOps {
  upserts: number;
  deletes: number;
}

export interface MergeOptions extends MirrorOptions {
  syncId: string;
  /** MySQL's clock at the snapshot: valid_from/valid_to of the versions written. */
  at: Date;
  /** Initial loads do not go through the outbox (sinks bootstrap from the mirror). */
  outbox: boolean;
  /** Set while the table's history is still owed first versions of loaded rows (history-backfill.ts). */
  historyBackfill?: HistoryBackfill | null;
}

const cols = (plan: TablePlan, prefix = '') => plan.columns.map((c) => `${prefix}${pgi(c.name)}`).join(', ');
const keyJoin = (plan: TablePlan, a: string, b: string) =>
  plan.schema.keyColumns.map((k) => `${a}.${pgi(k)} = ${b}.${pgi(k)}`).join(' AND ');

/**
 * Merges the stage into the mirror, its history and the outbox, in the caller's transaction. History first (it reads the rows about to be deleted), then the mirror.
 */
export async function mergeStage(
  client: PoolClient,
  plan: TablePlan,
  stage: string,
  o: MergeOptions,
  ops: StagedOps,
): Promise<void> {
  if (ops.upserts + ops.deletes === 0) return;
  await client.query(`ANALYZE ${stage}`);
  if (plan.keyed) await mergeKeyed(client, plan, stage, o, ops);
  else await mergeKeyless(client, plan, stage, o);
}

async function mergeKeyed(
  client: PoolClient,
  plan: TablePlan,
  stage: string,
  o: MergeOptions,
  ops: StagedOps,
): Promise<void> {
  const mirror = mirrorName(plan, o);
  const history = historyName(plan);
  const p = [o.syncId, o.at];
  if (o.history) {
    // A loaded row whose first version is still owed gets it now, from the mirror, to be closed below.
    if (o.historyBackfill)
      await writeOwedFirstVersions(client, {
        mirror: `${mirror} t`,
        history,
        stage: `${stage} s`,
        columns: plan.columns.map((c) => pgi(c.name)),
        join: keyJoin(plan, 't', 's'),
        probe: keyJoin(plan, 'h', 't'),
        backfill: o.historyBackfill,
      });
    // Close whatever version is open for every key that changed (a re-insert closes its delete marker).
    await withIndexProbes(client, history, ops.upserts + ops.deletes, () =>
      client.query(
        `UPDATE ${history} h SET valid_to = $1 FROM ${stage} s WHERE s._op IN ('i', 'u', 'd') AND ${keyJoin(plan, 'h', 's')} AND h.valid_to IS NULL`,
        [o.at],
      ),
    );
    if (ops.deletes > 0)
      await client.query(
        `INSERT INTO ${history} (${cols(plan)}, valid_from, op, sync_id) SELECT ${cols(plan, 't.')}, $2, 'delete', $1 FROM ${mirror} t JOIN ${stage} s ON ${keyJoin(plan, 't', 's')} WHERE s._op = 'd'`,
        p,
      );
  }
  if (o.outbox) await writeOutbox(client, plan, stage, o);
  if (ops.deletes > 0)
    await client.query(`DELETE FROM ${mirror} t USING ${stage} s WHERE s._op = 'd' AND ${keyJoin(plan, 't', 's')}`);
  const nonKey = plan.columns.filter((c) => !plan.schema.keyColumns.includes(c.name));
  const onConflict =
    nonKey.length > 0
      ? `DO UPDATE SET ${nonKey.map((c) => `${pgi(c.name)} = EXCLUDED.${pgi(c.name)}`).join(', ')}`
      : 'DO NOTHING';
  await client.query(
    `INSERT INTO ${mirror} (${cols(plan)}) SELECT ${cols(plan)} FROM ${stage} WHERE _op IN ('i', 'u') ON CONFLICT (${plan.schema.keyColumns.map(pgi).join(', ')}) ${onConflict}`,
  );
  if (o.history) {
    await client.query(
      `INSERT INTO ${history} (${cols(plan)}, valid_from, op, sync_id) SELECT ${cols(plan)}, $2, CASE _op WHEN 'i' THEN 'insert' ELSE 'update' END, $1 FROM ${stage} WHERE _op IN ('i', 'u')`,
      p,
    );
  }
}

/**
 * Runs `statement` with hash and merge joins off when the keys changed are few against a long
 * history: the planner, costing random reads at 4x sequential ones, otherwise scans the whole
 * history (4.8M versions, 3 s, for a 1% churn) where probing the as-of index per key takes a
 * fraction of that, and the history only grows.
 */
async function withIndexProbes<T>(
  client: PoolClient,
  history: string,
  changed: number,
  statement: () => Promise<T>,
): Promise<T> {
  const { rows } = await client.query('SELECT reltuples FROM pg_class WHERE oid = $1::regclass', [history]);
  const probe = changed * 100 < Number(rows[0]?.reltuples ?? 0);
  if (probe) await client.query('SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off');
  const result = await statement();
  // (A failed statement rolls the transaction back, and the settings with it.)
  if (probe) await client.query('SET LOCAL enable_hashjoin = on; SET LOCAL enable_mergejoin = on');
  return result;
}

async function mergeKeyless(client: PoolClient, plan: TablePlan, stage: string, o: MergeOptions): Promise<void> {
  const mirror = mirrorName(plan, o);
  const history = historyName(plan);
  const h = pgi(ROW_HASH_COLUMN);
  const p = [o.syncId, o.at];
  // `copies` of the identical rows with this hash, picked by position among their twins.
  const victims = (table: string, extra: string) =>
    `SELECT x.ctid AS tid FROM (SELECT t.ctid, t.${h} AS hh, row_number() OVER (PARTITION BY t.${h} ORDER BY t.ctid) AS rn FROM ${table} t
       WHERE ${extra} t.${h} IN (SELECT _hash FROM ${stage} WHERE _op = 'd')) x JOIN ${stage} s ON s._op = 'd' AND s._hash = x.hh WHERE x.rn <= s._copies`;
  if (o.history) {
    await client.query(
      `UPDATE ${history} v SET valid_to = $1 FROM (${victims(history, "t.valid_to IS NULL AND t.op <> 'delete' AND")}) d WHERE v.ctid = d.tid`,
      [o.at],
    );
    await client.query(
      `INSERT INTO ${history} (${cols(plan)}, ${h}, valid_from, op, sync_id) SELECT ${cols(plan, 't.')}, t.${h}, $2, 'delete', $1 FROM ${mirror} t WHERE t.ctid IN (${victims(mirror, '')})`,
      p,
    );
  }
  if (o.outbox) await writeOutbox(client, plan, stage, o);
  await client.query(`DELETE FROM ${mirror} t WHERE t.ctid IN (${victims(mirror, '')})`);
  await client.query(
    `INSERT INTO ${mirror} (${cols(plan)}, ${h}) SELECT ${cols(plan, 's.')}, s._hash FROM ${stage} s CROSS JOIN LATERAL generate_series(1, s._copies) WHERE s._op = 'i'`,
  );
  if (o.history) {
    await client.query(
      `INSERT INTO ${history} (${cols(plan)}, ${h}, valid_from, op, sync_id) SELECT ${cols(plan, 's.')}, s._hash, $2, 'insert', $1 FROM ${stage} s CROSS JOIN LATERAL generate_series(1, s._copies) WHERE s._op = 'i'`,
      p,
    );
  }
}

/** One event per changed row (per copy, for keyless tables), after-image as JSON. */
async function writeOutbox(client: PoolClient, plan: TablePlan, stage: string, o: MergeOptions): Promise<void> {
  const key = plan.keyed
    ? `jsonb_build_object(${plan.schema.keyColumns.map((k) => `'${k.replace(/'/g, "''")}', s.${pgi(k)}`).join(', ')})`
    : `jsonb_build_object('${ROW_HASH_COLUMN}', s._hash)`;
  const copies = plan.keyed ? '' : 'CROSS JOIN LATERAL generate_series(1, s._copies)';
  await client.query(
    `INSERT INTO cdc.outbox (sync_id, table_name, op, row_key, after)
     SELECT $1, $2, CASE s._op WHEN 'i' THEN 'insert' WHEN 'u' THEN 'update' ELSE 'delete' END, ${key},
            CASE WHEN s._op <> 'd' THEN to_jsonb(r) END
       FROM ${stage} s ${copies} CROSS JOIN LATERAL (SELECT ${cols(plan, 's.')}) r
      WHERE s._op IN ('i', 'u', 'd') ORDER BY s._key`,
    [o.syncId, plan.name],
  );
}

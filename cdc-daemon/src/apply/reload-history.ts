import type { PoolClient } from 'pg';
import type { TablePlan } from '../catalog/plan-table';
import { copyText, pgi } from './pg-copy';
import { historyName, mirrorName, type MirrorOptions } from './mirror-names';

/**
 * The history of a table loaded again over a kept history (a resync): each loaded row is compared
 * with its key's open version, so a row that did not change keeps its version, a changed one gets
 * its open version closed and a new one (an 'update'), and a key seen for the first time an
 * 'insert'. `closeVanished` then ends the versions of keys that are gone from MySQL. The result is
 * what the cycles would have written: exactly one open version per key.
 */
export async function writeReloadHistory(
  client: PoolClient,
  plan: TablePlan,
  copy: Buffer,
  o: { syncId: string; at: Date },
): Promise<void> {
  const stage = pgi(`_reload_${plan.name}`.slice(0, 63));
  const cols = plan.columns.map((c) => pgi(c.name));
  const list = (a: string) => cols.map((c) => `${a}.${c}`).join(', ');
  const key = (a: string, b: string) =>
    plan.schema.keyColumns.map((k) => `${a}.${pgi(k)} = ${b}.${pgi(k)}`).join(' AND ');
  const history = historyName(plan);
  await client.query(
    `CREATE TEMP TABLE IF NOT EXISTS ${stage} (${plan.columns.map((c) => `${pgi(c.name)} ${c.pgType}`).join(', ')}) ON COMMIT DROP`,
  );
  await client.query(`TRUNCATE ${stage}`);
  await copyText(client, stage, copy);
  await client.query(`ANALYZE ${stage}`);
  await client.query(
    `UPDATE ${history} h SET valid_to = $1 FROM ${stage} s
      WHERE ${key('h', 's')} AND h.valid_to IS NULL AND (h.op = 'delete' OR (${list('h')}) IS DISTINCT FROM (${list('s')}))`,
    [o.at],
  );
  await client.query(
    `INSERT INTO ${history} (${cols.join(', ')}, valid_from, op, sync_id)
     SELECT ${list('s')}, $2,
            CASE WHEN EXISTS (SELECT 1 FROM ${history} p WHERE ${key('p', 's')} AND p.valid_to = $2 AND p.op <> 'delete') THEN 'update' ELSE 'insert' END, $1
       FROM ${stage} s
      WHERE NOT EXISTS (SELECT 1 FROM ${history} h WHERE ${key('h', 's')} AND h.valid_to IS NULL)`,
    [o.syncId, o.at],
  );
}

/** After the last batch of a reload: keys with an open version but no mirror row were deleted meanwhile. */
export async function closeVanished(
  client: PoolClient,
  plan: TablePlan,
  o: MirrorOptions & { syncId: string; at: Date },
): Promise<void> {
  const cols = plan.columns.map((c) => pgi(c.name)).join(', ');
  const key = plan.schema.keyColumns.map((k) => `m.${pgi(k)} = h.${pgi(k)}`).join(' AND ');
  const history = historyName(plan);
  const vanished = `h.valid_to IS NULL AND h.op <> 'delete' AND NOT EXISTS (SELECT 1 FROM ${mirrorName(plan, o)} m WHERE ${key})`;
  await client.query(
    `INSERT INTO ${history} (${cols}, valid_from, op, sync_id)
     SELECT ${plan.columns.map((c) => `h.${pgi(c.name)}`).join(', ')}, $2, 'delete', $1 FROM ${history} h WHERE ${vanished}`,
    [o.syncId, o.at],
  );
  await client.query(`UPDATE ${history} h SET valid_to = $1 WHERE ${vanished}`, [o.at]);
}

import type { Connection } from 'mysql2/promise';
import type { Pool } from 'pg';
import type { TablePlan } from '../catalog/plan-table';
import { quarantineKey } from '../diff/row-keys';
import { tryEncode } from '../diff/try-encode';
import { showKey } from '../apply/quarantine-store';
import { mirrorName } from '../apply/mirror-names';
import { copyLines, pgi } from '../apply/pg-copy';
import { streamRange } from '../snapshot/mysql-source';
import { checkout } from '../apply/pg-tx';

export interface TableDrift {
  table: string;
  mysqlRows: number;
  postgresRows: number;
  /** In MySQL, not in the mirror. */
  missing: number;
  /** In the mirror, not in MySQL. */
  extra: number;
  /** Same key, different values. */
  different: number;
  /** A few keys (or rows, for keyless tables) of each kind, for the report. */
  samples: string[];
  /**
   * Known drift: rows MySQL holds that PostgreSQL refuses (the daemon quarantines them, see
   * cdc.quarantine); left out of the comparison and listed by key.
   */
  quarantined: string[];
}

/** Drift nobody knows of yet; quarantined rows are known and listed apart. */
export function hasDrift(d: TableDrift): boolean {
  return d.missing + d.extra + d.different > 0;
}

/**
 * Compares a MySQL table with its mirror row by row, without trusting the daemon's state: the
 * MySQL rows (read in one consistent snapshot) go into a typed temporary table and PostgreSQL
 * compares them with the mirror using its own equality (so 1.50 = 1.5 in numeric(p,2), jsonb
 * ignores key order). Memory stays flat: rows stream through COPY.
 */
export async function verifyTable(
  mysql: Connection,
  pool: Pool,
  plan: TablePlan,
  targetSchema: string,
): Promise<TableDrift> {
  const { client: client, release } = await checkout(pool);
  const tmp = pgi(`_verify_${plan.name}`.slice(0, 63));
  try {
    await client.query('BEGIN');
    await client.query(
      `CREATE TEMP TABLE ${tmp} (${plan.columns.map((c) => `${pgi(c.name)} ${c.pgType}`).join(', ')}, _quarantined boolean) ON COMMIT DROP`,
    );
    await mysql.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
    let mysqlRows = 0;
    const quarantined: string[] = [];
    // A quarantined row of a keyed table goes in with its key only, marked, so that its mirror
    // version (the last good one, if any) is not reported as drift.
    const blank = plan.columns.map(() => '\\N');
    async function* lines() {
      for await (const rows of streamRange(mysql, plan, null, null, undefined, false)) {
        mysqlRows += rows.length;
        const out: string[] = [];
        for (const raw of rows) {
          const enc = tryEncode(plan, raw, plan.keyIndexes);
          if (!('refused' in enc)) {
            out.push(`${enc.line}\t\\N`);
            continue;
          }
          const key = plan.keyed ? quarantineKey(plan, raw) : '';
          quarantined.push(plan.keyed ? showKey(key) : enc.refused.message);
          if (!plan.keyed || key.includes('\\x')) continue;
          const fields = [...blank];
          key.split('\t').forEach((k, i) => (fields[plan.keyIndexes[i]!] = k));
          out.push(`${fields.join('\t')}\tt`);
        }
        yield out;
      }
    }
    await copyLines(client, tmp, lines());
    await mysql.query('COMMIT');
    await client.query(`ANALYZE ${tmp}`);
    const mirror = mirrorName(plan, { targetSchema, history: false });
    const cols = plan.columns.map((c) => pgi(c.name));
    const list = (a: string) => cols.map((c) => `${a}.${c}`).join(', ');
    const { rows: counts } = await client.query(`SELECT (SELECT count(*) FROM ${mirror})::int AS n`);
    let drift: Omit<TableDrift, 'table' | 'mysqlRows' | 'postgresRows' | 'quarantined'>;
    if (plan.keyed) {
      const on = plan.schema.keyColumns.map((k) => `m.${pgi(k)} = p.${pgi(k)}`).join(' AND ');
      const keyText = `concat_ws('/', ${plan.schema.keyColumns.map((k) => `COALESCE(m.${pgi(k)}, p.${pgi(k)})::text`).join(', ')})`;
      const k0 = pgi(plan.schema.keyColumns[0]!);
      const { rows } = await client.query(
        `SELECT kind, count(*)::int AS n, (array_agg(k))[1:5] AS samples FROM (
           SELECT CASE WHEN p.${k0} IS NULL THEN 'missing' WHEN m.${k0} IS NULL THEN 'extra' ELSE 'different' END AS kind, ${keyText} AS k
             FROM ${tmp} m FULL JOIN ${mirror} p ON ${on}
            WHERE m._quarantined IS NOT TRUE
              AND (m.${k0} IS NULL OR p.${k0} IS NULL OR ROW(${list('m')}) IS DISTINCT FROM ROW(${list('p')}))) d
         GROUP BY kind`,
      );
      const of = (kind: string) => rows.find((r) => r.kind === kind);
      drift = {
        missing: of('missing')?.n ?? 0,
        extra: of('extra')?.n ?? 0,
        different: of('different')?.n ?? 0,
        samples: rows.flatMap((r) => (r.samples as string[]).map((k) => `${r.kind} ${k}`)),
      };
    } else {
      const visible = cols.join(', ');
      const diff = async (a: string, b: string) =>
        (
          await client.query(
            `SELECT count(*)::int AS n, (array_agg(to_jsonb(x)::text))[1:5] AS samples FROM (SELECT ${visible} FROM ${a} EXCEPT ALL SELECT ${visible} FROM ${b}) x`,
          )
        ).rows[0];
      const missing = await diff(tmp, mirror);
      const extra = await diff(mirror, tmp);
      drift = {
        missing: missing.n,
        extra: extra.n,
        different: 0,
        samples: [
          ...(missing.samples ?? []).map((r: string) => `missing ${r}`),
          ...(extra.samples ?? []).map((r: string) => `extra ${r}`),
        ],
      };
    }
    await client.query('COMMIT');
    return { table: plan.name, mysqlRows, postgresRows: counts[0].n, ...drift, quarantined };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    await mysql.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    release();
  }
}

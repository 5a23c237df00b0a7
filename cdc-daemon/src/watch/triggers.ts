import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { cdcError } from '../errors';
import { inTransaction } from '../apply/pg-tx';
import type { TriggerDefinition } from './parse-trigger';

/**
 * Threshold triggers: every successful cycle adds the rows it changed to the pending counts of the
 * triggers on those tables, in the cycle's own transaction (countTriggerChanges); a trigger fires
 * when at least `min_changes` are pending, or when `max_age_seconds` passed since its last firing
 * while changes are pending. A firing is a row in cdc.firings, written in the transaction that
 * takes and resets the pending counts: a crash neither loses a firing nor makes two of one, and
 * no change is counted twice or dropped. Evaluating reads one row per trigger, whatever the
 * history's size. Delivery comes after (see deliver-firings.ts), at least once.
 */

/** A trigger as listed: never its secret (only whether it has one), its webhook URL masked. */
export interface TriggerRow {
  name: string;
  table: string;
  minChanges: number | null;
  maxAgeSeconds: number | null;
  action: string;
  webhookUrl: string | null;
  signed: boolean;
  paused: boolean;
  armedAt: Date;
  lastFiredAt: Date | null;
  createdAt: Date;
  pending: PendingChanges;
  lastFiring: { id: number; status: string; firedAt: Date; attempts: number; lastError: string | null } | null;
}

export interface PendingChanges {
  insert: number;
  update: number;
  delete: number;
  load: number;
  total: number;
  cycles: number;
  firstSyncId: number | null;
  lastSyncId: number | null;
  tables: Record<string, OpCounts>;
}

type OpCounts = { insert: number; update: number; delete: number; load: number };

const PENDING_COLUMNS = `pending_insert::float8 AS insert, pending_update::float8 AS update, pending_delete::float8 AS delete,
  pending_load::float8 AS load, pending_cycles AS cycles, pending_first_sync_id::float8 AS "firstSyncId",
  pending_last_sync_id::float8 AS "lastSyncId", pending_tables AS tables`;

function pendingOf(r: Omit<PendingChanges, 'total'>): PendingChanges {
  return { ...r, total: r.insert + r.update + r.delete + r.load };
}

/**
 * In the cycle's transaction: adds what each table changed in this cycle to the triggers on that
 * table (or on '*'). Rolled back with the cycle, committed with it.
 */
export async function countTriggerChanges(
  c: PoolClient,
  syncId: number | string,
  tables: Map<string, { inserts: number; updates: number; deletes: number; rowsLoaded: number }>,
): Promise<void> {
  const changed = [...tables].filter(([, s]) => s.inserts + s.updates + s.deletes + s.rowsLoaded > 0);
  if (changed.length === 0) return;
  const { rows } = await c.query(
    `SELECT name, table_name, pending_tables FROM cdc.triggers WHERE table_name = '*' OR table_name = ANY($1) ORDER BY name FOR UPDATE`,
    [changed.map(([t]) => t)],
  );
  for (const t of rows) {
    const mine = changed.filter(([name]) => t.table_name === '*' || t.table_name === name);
    const sum: OpCounts = { insert: 0, update: 0, delete: 0, load: 0 };
    const perTable: Record<string, OpCounts> = t.pending_tables;
    for (const [name, s] of mine) {
      const prev = perTable[name] ?? { insert: 0, update: 0, delete: 0, load: 0 };
      const add = { insert: s.inserts, update: s.updates, delete: s.deletes, load: s.rowsLoaded };
      for (const k of Object.keys(sum) as (keyof OpCounts)[]) {
        sum[k] += add[k];
        prev[k] += add[k];
      }
      perTable[name] = prev;
    }
    await c.query(
      `UPDATE cdc.triggers SET pending_insert = pending_insert + $2, pending_update = pending_update + $3,
              pending_delete = pending_delete + $4, pending_load = pending_load + $5, pending_cycles = pending_cycles + 1,
              pending_first_sync_id = coalesce(pending_first_sync_id, $6), pending_last_sync_id = $6, pending_tables = $7
        WHERE name = $1`,
      [t.name, sum.insert, sum.update, sum.delete, sum.load, syncId, perTable],
    );
  }
}

export async function addTrigger(pool: Pool, t: TriggerDefinition): Promise<void> {
  if (t.table !== '*') {
    const { rows } = await pool.query("SELECT table_name FROM cdc.tables WHERE status <> 'retired' ORDER BY 1");
    const tables = rows.map((r) => r.table_name as string);
    if (!tables.includes(t.table))
      throw cdcError(
        'BAD_TRIGGER',
        `No mirrored table is called "${t.table}"; choose * or one of: ${tables.join(', ') || '(none yet: run a cycle first)'}.`,
      );
  }
  try {
    // Counting starts with the next cycle: changes made before the trigger existed do not fire it.
    await pool.query(
      `INSERT INTO cdc.triggers (name, table_name, min_changes, max_age_seconds, action, webhook_url, webhook_secret, sink)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        t.name,
        t.table,
        t.minChanges ?? null,
        t.maxAgeSeconds ?? null,
        t.action,
        t.webhookUrl ?? null,
        t.secret ?? null,
        t.sink ?? null,
      ],
    );
  } catch (err) {
    if ((err as { code?: string }).code === '23505')
      throw cdcError(
        'TRIGGER_EXISTS',
        `A trigger called "${t.name}" exists already; remove it first or pick another name.`,
      );
    throw err;
  }
}

export async function listTriggers(pool: Pool, name?: string): Promise<TriggerRow[]> {
  const { rows } = await pool.query(
    `SELECT t.name, t.table_name AS "table", t.min_changes::float8 AS "minChanges", t.max_age_seconds AS "maxAgeSeconds",
            CASE WHEN t.action = 'replay' THEN 'replay:' || t.sink ELSE t.action END AS action,
            t.webhook_url AS "webhookUrl", t.webhook_secret IS NOT NULL AS signed, t.paused,
            json_build_object('insert', t.pending_insert, 'update', t.pending_update, 'delete', t.pending_delete,
              'load', t.pending_load, 'cycles', t.pending_cycles, 'firstSyncId', t.pending_first_sync_id,
              'lastSyncId', t.pending_last_sync_id, 'tables', t.pending_tables) AS pending,
            t.armed_at AS "armedAt", t.last_fired_at AS "lastFiredAt",
            t.created_at AS "createdAt",
            (SELECT json_build_object('id', f.id, 'status', f.status, 'firedAt', f.fired_at, 'attempts', f.attempts, 'lastError', f.last_error)
               FROM cdc.firings f WHERE f.trigger_name = t.name ORDER BY f.id DESC LIMIT 1) AS "lastFiring"
       FROM cdc.triggers t WHERE ($1::text IS NULL OR t.name = $1) ORDER BY t.name`,
    [name ?? null],
  );
  for (const r of rows) {
    r.webhookUrl = r.webhookUrl === null ? null : maskUrl(r.webhookUrl);
    r.pending = pendingOf(r.pending);
    if (r.lastFiring) r.lastFiring.firedAt = new Date(r.lastFiring.firedAt);
  }
  return rows;
}

/**
 * A webhook URL as listed and shown: scheme and host only, as the path or query of many webhooks
 * (Slack's, say) is itself the credential.
 */
export function maskUrl(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname === '/' && u.search === '' ? '/' : '/…'}`;
}

async function setPaused(pool: Pool, name: string, paused: boolean): Promise<void> {
  const { rowCount } = await pool.query('UPDATE cdc.triggers SET paused = $2 WHERE name = $1', [name, paused]);
  if (!rowCount) throw unknownTrigger(name);
}

export const pauseTrigger = (pool: Pool, name: string) => setPaused(pool, name, true);
export const resumeTrigger = (pool: Pool, name: string) => setPaused(pool, name, false);

/** Removes a trigger and its firings (pending deliveries included). */
export async function removeTrigger(pool: Pool, name: string): Promise<void> {
  const { rowCount } = await pool.query('DELETE FROM cdc.triggers WHERE name = $1', [name]);
  if (!rowCount) throw unknownTrigger(name);
}

function unknownTrigger(name: string) {
  return cdcError('UNKNOWN_TRIGGER', `No trigger is called "${name}"; see \`npm run cdc -- triggers list\`.`);
}

export interface Firing {
  id: number;
  trigger: string;
  reason: string;
  idempotencyKey: string;
}

/**
 * Fires every trigger whose condition holds (or `only` that one, unconditionally, when `manual`):
 * each in its own transaction that locks the trigger row, counts, records the firing and moves
 * the cursor. Two evaluators at once (a timer and a cycle's end, two processes) serialise on the
 * row lock; the second sees the moved cursor and fires nothing.
 */
export async function evaluateTriggers(
  pool: Pool,
  options: { only?: string; manual?: boolean } = {},
): Promise<Firing[]> {
  const { rows: names } = await pool.query(
    // On its own a trigger fires only with changes pending: the others cost nothing each second.
    'SELECT name FROM cdc.triggers WHERE ($1::text IS NULL OR name = $1) AND ((NOT paused AND pending_cycles > 0) OR $2) ORDER BY name',
    [options.only ?? null, Boolean(options.manual)],
  );
  if (options.only && names.length === 0) throw unknownTrigger(options.only);
  const fired: Firing[] = [];
  for (const { name } of names) {
    const f = await inTransaction(pool, (c) => evaluateOne(c, name, Boolean(options.manual)));
    if (f) fired.push(f);
  }
  return fired;
}

async function evaluateOne(c: PoolClient, name: string, manual: boolean): Promise<Firing | undefined> {
  const { rows } = await c.query(
    `SELECT name, table_name, min_changes::float8 AS min_changes, max_age_seconds, action, paused, armed_at,
            extract(epoch FROM now() - armed_at)::float8 AS age, now() AS now, ${PENDING_COLUMNS}
       FROM cdc.triggers WHERE name = $1 FOR UPDATE ${manual ? '' : 'SKIP LOCKED'}`,
    [name],
  );
  const t = rows[0];
  if (!t || (t.paused && !manual)) return undefined;
  const pending = pendingOf(t);
  let reason: string | undefined;
  if (manual) reason = 'fired by an operator';
  else if (t.min_changes !== null && pending.total >= t.min_changes)
    reason = `${pending.total} changed rows reached min_changes ${t.min_changes}`;
  else if (t.max_age_seconds !== null && pending.total > 0 && t.age >= t.max_age_seconds)
    reason = `${pending.total} changed rows pending and ${Math.floor(t.age)} s since the last firing (max_age ${t.max_age_seconds} s)`;
  if (!reason) return undefined;

  const key = randomUUID();
  const { rows: ids } = await c.query("SELECT nextval('cdc.firings_id_seq')::float8 AS id");
  const id = ids[0].id as number;
  const payload = {
    event: 'trigger.fired',
    idempotencyKey: key,
    firingId: id,
    trigger: t.name,
    table: t.table_name,
    reason,
    firedAt: t.now,
    window: { from: t.armed_at, to: t.now },
    counts: {
      insert: pending.insert,
      update: pending.update,
      delete: pending.delete,
      load: pending.load,
      total: pending.total,
    },
    tables: pending.tables,
    syncIds: { first: pending.firstSyncId, last: pending.lastSyncId, cycles: pending.cycles },
  };
  await c.query(
    `INSERT INTO cdc.firings (id, trigger_name, reason, action, payload, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6)`,
    [id, t.name, reason, t.action, payload, key],
  );
  await c.query(
    `UPDATE cdc.triggers SET pending_insert = 0, pending_update = 0, pending_delete = 0, pending_load = 0, pending_cycles = 0,
            pending_first_sync_id = NULL, pending_last_sync_id = NULL, pending_tables = '{}', armed_at = $2, last_fired_at = $2
      WHERE name = $1`,
    [t.name, t.now],
  );
  return { id, trigger: t.name, reason, idempotencyKey: key };
}

export interface FiringRow {
  id: number;
  trigger: string | null;
  alertId: number | null;
  firedAt: Date;
  reason: string;
  action: string;
  status: string;
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
  outcome: unknown;
  finishedAt: Date | null;
  idempotencyKey: string;
  payload: Record<string, unknown>;
}

export async function listFirings(pool: Pool, trigger?: string, limit = 50): Promise<FiringRow[]> {
  const { rows } = await pool.query(
    `SELECT id::float8 AS id, trigger_name AS trigger, alert_id::float8 AS "alertId", fired_at AS "firedAt", reason, action, status,
            attempts, next_attempt_at AS "nextAttemptAt", last_error AS "lastError", outcome, finished_at AS "finishedAt",
            idempotency_key AS "idempotencyKey", payload
       FROM cdc.firings WHERE ($1::text IS NULL OR trigger_name = $1) ORDER BY id DESC LIMIT $2`,
    [trigger ?? null, limit],
  );
  return rows;
}

import type { Pool, PoolClient } from 'pg';
import { randomUUID } from 'node:crypto';
import { inTransaction } from '../apply/pg-tx';
import { sinkLag } from '../outbox/outbox-store';

/**
 * Operator alerts: conditions read from the daemon's own records (so they hold whichever process
 * looks), each an incident in cdc.alerts from the evaluation that first sees it to the one that no
 * longer does. Opening and resolving each queue one notification for ALERT_WEBHOOK_URL in the same
 * transaction: one message per incident, one when it resolves.
 */

export interface AlertThresholds {
  /** No successful cycle for this long. */
  staleSeconds: number;
  /** This many failed cycles since the last success. */
  failedCycles: number;
  /** A sink's oldest undelivered event is older than this. */
  sinkLagSeconds: number;
}

export type AlertKind = 'stale_mirror' | 'failed_cycles' | 'parked_events' | 'sink_lag' | 'drift';

interface Condition {
  kind: AlertKind;
  subject: string;
  message: string;
}

export interface AlertRow {
  id: number;
  kind: AlertKind;
  subject: string;
  message: string;
  openedAt: Date;
  lastSeenAt: Date;
  resolvedAt: Date | null;
  resolution: string | null;
}

const RESOLUTIONS: Record<AlertKind, (subject: string) => string> = {
  stale_mirror: () => 'a cycle succeeded again: the mirror is fresh',
  failed_cycles: () => 'a cycle succeeded again',
  parked_events: (s) => `no parked events are left on ${s}`,
  sink_lag: (s) => `${s} caught up: its lag is back under the threshold`,
  drift: (s) => `the last verify of ${s} found no drift`,
};

const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;

/** What is wrong right now, read from cdc.sync_history, the sink offsets and the verify results. */
export async function currentConditions(db: Pool | PoolClient, th: AlertThresholds): Promise<Condition[]> {
  const out: Condition[] = [];
  const {
    rows: [h],
  } = await db.query(
    `SELECT (SELECT id FROM cdc.sync_history WHERE status IN ('succeeded', 'no_changes') ORDER BY id DESC LIMIT 1)::float8 AS ok_id,
            (SELECT finished_at FROM cdc.sync_history WHERE status IN ('succeeded', 'no_changes') ORDER BY id DESC LIMIT 1) AS ok_at,
            (SELECT started_at FROM cdc.sync_history ORDER BY id LIMIT 1) AS first_at,
            now() AS now`,
  );
  const now = new Date(h.now).getTime();
  if (h.ok_at && now - new Date(h.ok_at).getTime() > th.staleSeconds * 1000)
    out.push({
      kind: 'stale_mirror',
      subject: '',
      message: `No successful cycle for ${seconds(now - new Date(h.ok_at).getTime())} (threshold ${th.staleSeconds} s): the mirror shows MySQL as of ${new Date(h.ok_at).toISOString()} or earlier.`,
    });
  else if (!h.ok_at && h.first_at && now - new Date(h.first_at).getTime() > th.staleSeconds * 1000)
    out.push({
      kind: 'stale_mirror',
      subject: '',
      message: `No cycle has succeeded since the first attempt ${seconds(now - new Date(h.first_at).getTime())} ago.`,
    });
  const {
    rows: [f],
  } = await db.query(
    `SELECT count(*)::int AS n, (array_agg(error_code || ': ' || left(error_message, 200) ORDER BY id DESC))[1] AS last
       FROM cdc.sync_history WHERE status = 'failed' AND id > $1`,
    [h.ok_id ?? 0],
  );
  if (f.n >= th.failedCycles)
    out.push({
      kind: 'failed_cycles',
      subject: '',
      message: `${f.n} cycles failed in a row (threshold ${th.failedCycles}); the last: ${f.last ?? 'unknown error'}.`,
    });
  for (const s of await sinkHealth(db)) {
    if (s.parked > 0)
      out.push({
        kind: 'parked_events',
        subject: s.sink,
        message: `${s.parked} event(s) parked on ${s.sink}: the sink refused them; retry or replay it.`,
      });
    if (s.lagSeconds > th.sinkLagSeconds)
      out.push({
        kind: 'sink_lag',
        subject: s.sink,
        message: `${s.sink} is ${Math.round(s.lagSeconds)} s behind the mirror (threshold ${th.sinkLagSeconds} s).`,
      });
  }
  const { rows: drift } = await db.query(
    'SELECT table_name, missing::int, extra::int, different::int, verified_at FROM cdc.verify_results WHERE missing + extra + different > 0 ORDER BY table_name',
  );
  for (const d of drift)
    out.push({
      kind: 'drift',
      subject: d.table_name,
      message: `Verify found drift in ${d.table_name} at ${new Date(d.verified_at).toISOString().replace('T', ' ').slice(0, 19)} UTC: rows ${d.missing} missing, ${d.extra} extra, ${d.different} different.`,
    });
  return out;
}

/**
 * Each sink's lag (the age of the first event after its cursor: one index probe, not a count of a
 * large outbox, as this runs every second) and its parked events.
 */
async function sinkHealth(db: Pool | PoolClient): Promise<{ sink: string; lagSeconds: number; parked: number }[]> {
  const { rows } = await db.query(
    `SELECT o.sink,
            coalesce(extract(epoch FROM now() - (SELECT e.created_at FROM cdc.outbox e WHERE e.id > o.outbox_id ORDER BY e.id LIMIT 1)), 0)::float8 AS "lagSeconds",
            (SELECT count(*) FROM cdc.dead_letters d WHERE d.sink = o.sink)::int AS parked
       FROM cdc.sink_offsets o ORDER BY o.sink`,
  );
  return rows;
}

const ALERT_LOCK = 7_246_003;

/** Opens and resolves incidents to match the conditions; queues their notifications when `notify`. */
export async function evaluateAlerts(
  pool: Pool,
  th: AlertThresholds,
  notify: boolean,
): Promise<{ opened: AlertRow[]; resolved: AlertRow[] }> {
  return inTransaction(pool, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1)', [ALERT_LOCK]);
    const conditions = await currentConditions(c, th);
    const open = await openAlerts(c);
    const id = (x: { kind: string; subject: string }) => `${x.kind}\u0000${x.subject}`;
    const openById = new Map(open.map((a) => [id(a), a]));
    const present = new Set(conditions.map(id));
    const opened: AlertRow[] = [];
    const resolved: AlertRow[] = [];
    for (const cond of conditions) {
      if (openById.has(id(cond))) {
        await c.query('UPDATE cdc.alerts SET last_seen_at = now(), message = $2 WHERE id = $1', [
          openById.get(id(cond))!.id,
          cond.message,
        ]);
        continue;
      }
      const { rows } = await c.query(
        `INSERT INTO cdc.alerts (kind, subject, message) VALUES ($1, $2, $3) RETURNING ${ALERT_COLUMNS}`,
        [cond.kind, cond.subject, cond.message],
      );
      opened.push(rows[0]);
      if (notify) await queue(c, 'alert.opened', rows[0]);
    }
    for (const a of open) {
      if (present.has(id(a))) continue;
      const { rows } = await c.query(
        `UPDATE cdc.alerts SET resolved_at = now(), resolution = $2 WHERE id = $1 RETURNING ${ALERT_COLUMNS}`,
        [a.id, RESOLUTIONS[a.kind](a.subject)],
      );
      resolved.push(rows[0]);
      if (notify) await queue(c, 'alert.resolved', rows[0]);
    }
    return { opened, resolved };
  });
}

async function queue(c: PoolClient, event: 'alert.opened' | 'alert.resolved', a: AlertRow): Promise<void> {
  const key = randomUUID();
  await c.query(
    "INSERT INTO cdc.firings (alert_id, reason, action, payload, idempotency_key) VALUES ($1, $2, 'alert', $3, $4)",
    [
      a.id,
      event,
      {
        event,
        idempotencyKey: key,
        alert: {
          id: a.id,
          kind: a.kind,
          subject: a.subject || null,
          message: a.message,
          openedAt: a.openedAt,
          resolvedAt: a.resolvedAt,
          resolution: a.resolution,
        },
      },
      key,
    ],
  );
}

const ALERT_COLUMNS = `id::float8 AS id, kind, subject, message, opened_at AS "openedAt", last_seen_at AS "lastSeenAt",
  resolved_at AS "resolvedAt", resolution`;

async function openAlerts(db: Pool | PoolClient): Promise<AlertRow[]> {
  const { rows } = await db.query(`SELECT ${ALERT_COLUMNS} FROM cdc.alerts WHERE resolved_at IS NULL ORDER BY id`);
  return rows;
}

/** Open incidents first, then the most recently resolved. */
export async function listAlerts(pool: Pool, limit = 50): Promise<AlertRow[]> {
  const { rows } = await pool.query(
    `SELECT ${ALERT_COLUMNS} FROM cdc.alerts ORDER BY resolved_at IS NOT NULL, coalesce(resolved_at, opened_at) DESC LIMIT $1`,
    [limit],
  );
  return rows;
}

/** One sample of each sink's lag per `everyMs`, kept 8 days, for the console's lag chart. */
export async function sampleSinkLag(pool: Pool, everyMs = 60_000): Promise<boolean> {
  const { rows } = await pool.query(
    'SELECT (max(sampled_at) IS NULL OR max(sampled_at) < now() - make_interval(secs => $1 / 1000.0)) AS due FROM cdc.sink_lag_samples',
    [everyMs],
  );
  if (!rows[0].due) return false;
  const lag = await sinkLag(pool);
  if (lag.length === 0) return false;
  await pool.query(
    `INSERT INTO cdc.sink_lag_samples (sink, lag_events, lag_seconds)
     SELECT * FROM unnest($1::text[], $2::bigint[], $3::float8[]) ON CONFLICT DO NOTHING`,
    [lag.map((l) => l.sink), lag.map((l) => l.lagEvents), lag.map((l) => l.lagSeconds)],
  );
  await pool.query("DELETE FROM cdc.sink_lag_samples WHERE sampled_at < now() - interval '8 days'");
  return true;
}

import { createHmac } from 'node:crypto';
import type { Pool } from 'pg';
import type { Logger } from '../../../lib/logger';
import { errorMessage } from '../../../lib/app-error';
import type { SinkName } from '../sinks/sink';
import { hasDrift, type TableDrift } from '../verify/verify-table';

/**
 * Delivers what cdc.firings holds, at least once: a due firing is claimed with a lease (so two
 * processes never run it at the same time), its action runs, and the outcome is written back. A
 * process that dies mid-delivery leaves the lease to expire, and the next claim runs it again
 * with the same idempotency key. A failed attempt is retried with exponential backoff until
 * `maxAttempts`, then the firing is marked failed.
 */

export interface DeliverySettings {
  timeoutMs: number;
  maxAttempts: number;
  backoffMs: number;
  backoffMaxMs: number;
  /** Where alerts go (ALERT_WEBHOOK_URL) and their signing key; without a URL alerts are not sent. */
  alertWebhookUrl?: string;
  alertWebhookSecret?: string;
}

export interface DeliveryDeps {
  pool: Pool;
  logger: Logger;
  settings: DeliverySettings;
  /** Runs verify for a table (or all, for '*'); the daemon passes verifyTables. */
  verify: (table: string | undefined) => Promise<TableDrift[]>;
  /** Marks a sink for a re-bootstrap from the mirror and wakes its relay. */
  replay: (sink: SinkName) => Promise<void>;
}

export interface DeliveryResult {
  id: number;
  status: 'succeeded' | 'failed' | 'pending';
  attempts: number;
  error?: string;
  outcome?: unknown;
}

/** The signature header's value: HMAC-SHA256 of the exact body bytes, as GitHub does it. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

interface Claimed {
  id: number;
  trigger_name: string | null;
  action: string;
  payload: Record<string, unknown> & { event?: string; table?: string };
  idempotency_key: string;
  attempts: number;
  webhook_url: string | null;
  webhook_secret: string | null;
  sink: string | null;
}

/**
 * Claims and runs due firings (or just `only`); returns what each attempt came to. Each firing is
 * attempted once per call: a retry that falls due while the call drains the rest (a backoff
 * shorter than an attempt and its bookkeeping) waits for the next step.
 */
export async function deliverDue(deps: DeliveryDeps, only?: number[]): Promise<DeliveryResult[]> {
  const results: DeliveryResult[] = [];
  const attempted: number[] = [];
  for (;;) {
    const batch = await claim(deps, only, attempted);
    if (batch.length === 0) return results;
    attempted.push(...batch.map((f) => f.id));
    // At once: one receiver that hangs until its timeout holds up neither the others nor, for
    // long, the triggers and alerts evaluated in the same step.
    results.push(...(await Promise.all(batch.map((f) => attempt(deps, f)))));
    if (only) return results;
  }
}

async function claim(deps: DeliveryDeps, only: number[] | undefined, attempted: number[]): Promise<Claimed[]> {
  // Long enough for a webhook to time out, or for a verify of a big table to finish.
  const leaseMs = deps.settings.timeoutMs + 2_000;
  const { rows } = await deps.pool.query(
    `UPDATE cdc.firings f SET status = 'delivering', attempts = f.attempts + 1,
            lease_until = now() + CASE WHEN f.action IN ('webhook', 'alert') THEN make_interval(secs => $1 / 1000.0)
                                       ELSE interval '1 hour' END
       FROM (SELECT id FROM cdc.firings
              WHERE ((status = 'pending' AND next_attempt_at <= now()) OR (status = 'delivering' AND lease_until < now()))
                AND ($2::bigint[] IS NULL OR id = ANY($2)) AND id <> ALL($3::bigint[])
              ORDER BY id LIMIT 10 FOR UPDATE SKIP LOCKED) due
      WHERE f.id = due.id
      RETURNING f.id::float8 AS id, f.trigger_name, f.action, f.payload, f.idempotency_key, f.attempts,
                (SELECT t.webhook_url FROM cdc.triggers t WHERE t.name = f.trigger_name) AS webhook_url,
                (SELECT t.webhook_secret FROM cdc.triggers t WHERE t.name = f.trigger_name) AS webhook_secret,
                (SELECT t.sink FROM cdc.triggers t WHERE t.name = f.trigger_name) AS sink`,
    [leaseMs, only ?? null, attempted],
  );
  return rows;
}

async function attempt(deps: DeliveryDeps, f: Claimed): Promise<DeliveryResult> {
  const log = deps.logger.child({ firing: f.id, trigger: f.trigger_name ?? undefined, action: f.action });
  try {
    const outcome = await run(deps, f);
    await deps.pool.query(
      "UPDATE cdc.firings SET status = 'succeeded', outcome = $2, last_error = NULL, finished_at = now(), lease_until = NULL WHERE id = $1",
      [f.id, JSON.stringify(outcome)],
    );
    log.info('firing delivered', { attempts: f.attempts });
    return { id: f.id, status: 'succeeded', attempts: f.attempts, outcome };
  } catch (err) {
    const error = errorMessage(err).slice(0, 500);
    const s = deps.settings;
    const final = f.attempts >= s.maxAttempts;
    const delay = Math.min(s.backoffMaxMs, s.backoffMs * 2 ** (f.attempts - 1));
    await deps.pool.query(
      `UPDATE cdc.firings SET status = $2, last_error = $3, lease_until = NULL,
              next_attempt_at = now() + make_interval(secs => $4 / 1000.0), finished_at = CASE WHEN $2 = 'failed' THEN now() END
        WHERE id = $1`,
      [f.id, final ? 'failed' : 'pending', error, delay],
    );
    log.warn(final ? 'firing failed; no attempts left' : 'firing attempt failed; retrying with backoff', {
      attempts: f.attempts,
      error,
      retryInMs: final ? undefined : delay,
    });
    return { id: f.id, status: final ? 'failed' : 'pending', attempts: f.attempts, error };
  }
}

async function run(deps: DeliveryDeps, f: Claimed): Promise<unknown> {
  switch (f.action) {
    case 'webhook':
      if (!f.webhook_url) throw new Error('the trigger has no webhook URL');
      return post(deps, f.webhook_url, f.webhook_secret, f);
    case 'alert':
      if (!deps.settings.alertWebhookUrl) return { skipped: 'ALERT_WEBHOOK_URL is not set' };
      return post(deps, deps.settings.alertWebhookUrl, deps.settings.alertWebhookSecret ?? null, f);
    case 'verify': {
      const table = f.payload.table === '*' ? undefined : f.payload.table;
      const tables = await deps.verify(table);
      const drifted = tables.filter(hasDrift).map((t) => t.table);
      return { verified: tables.length, drifted, ok: drifted.length === 0 };
    }
    case 'replay':
      if (!f.sink) throw new Error('the trigger names no sink');
      await deps.replay(f.sink as SinkName);
      return { sink: f.sink, replay: 'requested' };
    default:
      throw new Error(`unknown action ${f.action}`);
  }
}

/** POSTs the payload; any 2xx is a delivery. Errors name the host only (a URL may carry a token). */
async function post(deps: DeliveryDeps, url: string, secret: string | null, f: Claimed) {
  const body = JSON.stringify(f.payload);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'campus-sync-cdc',
    'x-campus-event': String(f.payload.event ?? f.action),
    'x-campus-delivery': f.idempotency_key,
  };
  if (secret) headers['x-campus-signature'] = signBody(secret, body);
  const started = performance.now();
  const host = new URL(url).host;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(deps.settings.timeoutMs),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    const why =
      (err as Error).name === 'TimeoutError' ? `no answer within ${deps.settings.timeoutMs} ms` : (cause ?? 'failed');
    throw new Error(`POST to ${host}: ${why}`, { cause: err });
  }
  await res.arrayBuffer().catch(() => undefined);
  if (res.status < 200 || res.status > 299) throw new Error(`POST to ${host}: HTTP ${res.status}`);
  return { httpStatus: res.status, ms: Math.round(performance.now() - started) };
}

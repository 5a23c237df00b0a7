-- Threshold triggers, their firings, operator alerts, verify results and sink-lag samples
-- (issue 16). The daemon writes these; the console reads them.

-- A trigger: a table (or '*'), a condition and an action. Each successful cycle adds its rows
-- changed to the pending_* counters of the triggers on its tables, in its own transaction; a
-- firing takes them and resets them in another. Nothing is ever counted twice or lost.
CREATE TABLE IF NOT EXISTS cdc.triggers (
  name             text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.-]{1,64}$'),
  table_name       text NOT NULL,
  -- Fire once at least this many rows changed since the last firing ...
  min_changes      bigint CHECK (min_changes > 0),
  -- ... or once this many seconds passed since the last firing while changes are pending.
  max_age_seconds  integer CHECK (max_age_seconds > 0),
  action           text NOT NULL CHECK (action IN ('webhook', 'verify', 'replay')),
  webhook_url      text,
  -- HMAC-SHA256 key of the webhook signature. Never mirrored, logged, listed or shown.
  webhook_secret   text,
  sink             text,
  paused           boolean NOT NULL DEFAULT false,
  pending_insert   bigint NOT NULL DEFAULT 0,
  pending_update   bigint NOT NULL DEFAULT 0,
  pending_delete   bigint NOT NULL DEFAULT 0,
  pending_load     bigint NOT NULL DEFAULT 0,
  -- Cycles that changed the table since the last firing, the first and last of them.
  pending_cycles   integer NOT NULL DEFAULT 0,
  pending_first_sync_id bigint,
  pending_last_sync_id  bigint,
  -- For '*': the counts per table, {"students": {"insert": 1, ...}}.
  pending_tables   jsonb NOT NULL DEFAULT '{}',
  -- When the age condition's clock started: creation, or the last firing.
  armed_at         timestamptz NOT NULL DEFAULT now(),
  last_fired_at    timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  CHECK (min_changes IS NOT NULL OR max_age_seconds IS NOT NULL),
  CHECK ((action = 'webhook') = (webhook_url IS NOT NULL)),
  CHECK ((action = 'replay') = (sink IS NOT NULL))
);

-- What is to be delivered: a trigger's firing, or an alert's opening or resolution (sent to
-- ALERT_WEBHOOK_URL). Recorded in the same transaction that takes the trigger's pending counts or
-- opens/resolves the alert; delivered afterwards, at least once, with `idempotency_key` in the
-- payload so a receiver can drop a repeat after a crash.
CREATE TABLE IF NOT EXISTS cdc.firings (
  id               bigserial PRIMARY KEY,
  trigger_name     text REFERENCES cdc.triggers (name) ON DELETE CASCADE,
  alert_id         bigint,
  fired_at         timestamptz NOT NULL DEFAULT now(),
  reason           text NOT NULL,
  action           text NOT NULL CHECK (action IN ('webhook', 'verify', 'replay', 'alert')),
  payload          jsonb NOT NULL,
  idempotency_key  text NOT NULL UNIQUE,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivering', 'succeeded', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  lease_until      timestamptz,
  last_error       text,
  outcome          jsonb,
  finished_at      timestamptz,
  CHECK ((trigger_name IS NULL) = (action = 'alert'))
);
CREATE INDEX IF NOT EXISTS firings_due ON cdc.firings (next_attempt_at) WHERE status IN ('pending', 'delivering');
CREATE INDEX IF NOT EXISTS firings_trigger ON cdc.firings (trigger_name, id DESC);

-- One row per incident: opened when its condition appears, resolved when it goes.
CREATE TABLE IF NOT EXISTS cdc.alerts (
  id           bigserial PRIMARY KEY,
  kind         text NOT NULL CHECK (kind IN ('stale_mirror', 'failed_cycles', 'parked_events', 'sink_lag', 'drift')),
  -- The sink or table concerned; '' when the alert is about the whole mirror.
  subject      text NOT NULL DEFAULT '',
  message      text NOT NULL,
  opened_at    timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  resolved_at  timestamptz,
  resolution   text
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_open ON cdc.alerts (kind, subject) WHERE resolved_at IS NULL;

-- The last verify of each table (CLI, admin API, console or a trigger).
CREATE TABLE IF NOT EXISTS cdc.verify_results (
  table_name   text PRIMARY KEY,
  verified_at  timestamptz NOT NULL DEFAULT now(),
  mysql_rows   bigint NOT NULL,
  postgres_rows bigint NOT NULL,
  missing      bigint NOT NULL,
  extra        bigint NOT NULL,
  different    bigint NOT NULL,
  quarantined  integer NOT NULL,
  samples      jsonb NOT NULL DEFAULT '[]'
);

-- Each sink's lag, sampled by the daemon about once a minute, for the console's chart.
CREATE TABLE IF NOT EXISTS cdc.sink_lag_samples (
  sampled_at   timestamptz NOT NULL DEFAULT now(),
  sink         text NOT NULL,
  lag_events   bigint NOT NULL,
  lag_seconds  double precision NOT NULL,
  PRIMARY KEY (sampled_at, sink)
);

-- The console's table page: a table's recent changes without scanning every cycle's rows.
CREATE INDEX IF NOT EXISTS sync_history_tables_table ON cdc.sync_history_tables (table_name, sync_id DESC);

-- campus-sync CDC daemon: its own state in schema `cdc`. Applied by the daemon's migrations
-- (cdc-daemon/src/apply/pg-migrations.ts) in one transaction; idempotent.

CREATE SCHEMA IF NOT EXISTS cdc;
CREATE SCHEMA IF NOT EXISTS history;

-- One row per mirrored MySQL table.
CREATE TABLE IF NOT EXISTS cdc.tables (
  table_name          text PRIMARY KEY,
  status              text NOT NULL CHECK (status IN ('loading', 'active', 'retired')),
  -- Hash of the MySQL column list and key; a change triggers ALTER or rebuild.
  schema_fingerprint  text NOT NULL,
  -- The captured MySQL description (columns, key) the mirror was built from.
  table_schema        jsonb NOT NULL,
  -- Initial load: last key loaded (MySQL order), so a crash resumes after it.
  load_cursor         jsonb,
  loaded_rows         bigint NOT NULL DEFAULT 0,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);

-- Key ranges of a table in MySQL's key order, with the fingerprint MySQL computed for each.
-- A chunk runs from lower_key (inclusive; NULL for the first) to the next chunk's lower_key.
-- Keys are never compared here: MySQL's collation decides, in MySQL.
CREATE TABLE IF NOT EXISTS cdc.chunks (
  table_name   text   NOT NULL REFERENCES cdc.tables (table_name) ON DELETE CASCADE,
  chunk_id     bigint NOT NULL,
  position     bigint NOT NULL,
  lower_key    jsonb,
  row_count    bigint NOT NULL,
  -- COUNT-independent aggregate of the 64-bit row hashes (BIT_XOR, or SUM for keyless tables).
  fingerprint  numeric NOT NULL,
  PRIMARY KEY (table_name, chunk_id)
);
CREATE SEQUENCE IF NOT EXISTS cdc.chunk_ids;

-- The rows of each chunk as the daemon last saw them, one blob per chunk (writing a blob per
-- ~10k rows costs far less than a tuple per row). Each record: key length (uint16), key (UTF-8:
-- the row's encoded key columns; for keyless tables its xxhash), MySQL row hash (uint64),
-- xxhash64 of the row's COPY text (uint64), copies (uint32). Records concatenate, so two
-- chunks merge with `||`. See cdc-daemon/src/apply/chunk-rows.ts.
CREATE TABLE IF NOT EXISTS cdc.chunk_rows (
  table_name  text   NOT NULL,
  chunk_id    bigint NOT NULL,
  rows        bytea  NOT NULL,
  PRIMARY KEY (table_name, chunk_id)
);
ALTER TABLE cdc.chunk_rows ALTER COLUMN rows SET STORAGE EXTERNAL;

-- One row per cycle, including cycles with no changes, failed and skipped ones.
CREATE TABLE IF NOT EXISTS cdc.sync_history (
  id              bigserial PRIMARY KEY,
  started_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz,
  status          text NOT NULL CHECK (status IN ('running', 'succeeded', 'no_changes', 'failed', 'skipped')),
  -- MySQL's clock when the consistent snapshot was opened: the instant the mirror now shows.
  snapshot_at     timestamptz,
  tables          integer NOT NULL DEFAULT 0,
  chunks_scanned  integer NOT NULL DEFAULT 0,
  chunks_changed  integer NOT NULL DEFAULT 0,
  rows_fetched    bigint  NOT NULL DEFAULT 0,
  rows_loaded     bigint  NOT NULL DEFAULT 0,
  inserts         bigint  NOT NULL DEFAULT 0,
  updates         bigint  NOT NULL DEFAULT 0,
  deletes         bigint  NOT NULL DEFAULT 0,
  warnings        integer NOT NULL DEFAULT 0,
  bytes_read      bigint  NOT NULL DEFAULT 0,
  mysql_ms        integer NOT NULL DEFAULT 0,
  postgres_ms     integer NOT NULL DEFAULT 0,
  node_ms         integer NOT NULL DEFAULT 0,
  duration_ms     integer,
  error_code      text,
  error_message   text,
  error_table     text,
  notes           text
);
CREATE INDEX IF NOT EXISTS sync_history_started ON cdc.sync_history (started_at DESC);

CREATE TABLE IF NOT EXISTS cdc.sync_history_tables (
  sync_id         bigint NOT NULL REFERENCES cdc.sync_history (id) ON DELETE CASCADE,
  table_name      text   NOT NULL,
  chunks_scanned  integer NOT NULL DEFAULT 0,
  chunks_changed  integer NOT NULL DEFAULT 0,
  rows_fetched    bigint  NOT NULL DEFAULT 0,
  rows_loaded     bigint  NOT NULL DEFAULT 0,
  inserts         bigint  NOT NULL DEFAULT 0,
  updates         bigint  NOT NULL DEFAULT 0,
  deletes         bigint  NOT NULL DEFAULT 0,
  warnings        integer NOT NULL DEFAULT 0,
  -- What happened to the table itself: created, loaded, altered, rebuilt, retired.
  schema_change   text,
  PRIMARY KEY (sync_id, table_name)
);

-- Change events for the sinks, written in the cycle's transaction (the transactional outbox).
CREATE TABLE IF NOT EXISTS cdc.outbox (
  id          bigserial PRIMARY KEY,
  sync_id     bigint NOT NULL,
  table_name  text   NOT NULL,
  op          text   NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
  row_key     jsonb  NOT NULL,
  after       jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS outbox_sync ON cdc.outbox (sync_id);

-- Rows MySQL holds that PostgreSQL refuses (a NUL byte in text, an invalid date kept under
-- ALLOW_INVALID_DATES, a \u0000 in JSON): each is kept out of the mirror, which keeps the row's
-- last good version (or none), while the rest of the cycle commits. A row leaves this table in
-- the cycle that applies it (fixed in MySQL) or sees it gone.
CREATE TABLE IF NOT EXISTS cdc.quarantine (
  table_name     text NOT NULL,
  -- The row's key as the chunk state stores it: key columns in COPY text, joined by a tab.
  row_key        text NOT NULL,
  column_name    text,
  error_code     text NOT NULL,
  error          text NOT NULL,
  first_seen     timestamptz NOT NULL DEFAULT now(),
  last_seen      timestamptz NOT NULL DEFAULT now(),
  first_sync_id  bigint,
  last_sync_id   bigint,
  PRIMARY KEY (table_name, row_key)
);

ALTER TABLE cdc.sync_history ADD COLUMN IF NOT EXISTS quarantined integer NOT NULL DEFAULT 0;
ALTER TABLE cdc.sync_history_tables ADD COLUMN IF NOT EXISTS quarantined integer NOT NULL DEFAULT 0;

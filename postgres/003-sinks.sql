-- The outbox relay: one cursor per sink, events parked for an operator, and pruning.
-- See cdc-daemon/src/outbox/relay.ts.

-- The cycle that finished a table's initial load: a sink bootstrapped before it exports the
-- table again (initial loads do not go through the outbox).
ALTER TABLE cdc.tables ADD COLUMN IF NOT EXISTS loaded_sync_id bigint;

CREATE TABLE IF NOT EXISTS cdc.sink_offsets (
  sink               text PRIMARY KEY,
  -- Every outbox event with id <= outbox_id has been acknowledged by the sink (or parked).
  outbox_id          bigint NOT NULL DEFAULT 0,
  -- 'new' until the first bootstrap from the mirror; 'bootstrapping' while one runs.
  status             text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'bootstrapping', 'following')),
  -- The version (last finished sync id) of the mirror snapshot the last bootstrap exported.
  bootstrap_version  bigint NOT NULL DEFAULT 0,
  bootstrapped_at    timestamptz,
  delivered_events   bigint NOT NULL DEFAULT 0,
  last_delivered_at  timestamptz,
  last_error         text,
  last_error_at      timestamptz,
  updated_at         timestamptz NOT NULL DEFAULT now()
);

-- Events a sink kept refusing ('failed'), and later events of the same row held behind them
-- ('waiting'): other rows go on. A retry delivers them in order; a bootstrap supersedes them.
CREATE TABLE IF NOT EXISTS cdc.dead_letters (
  id          bigserial PRIMARY KEY,
  sink        text   NOT NULL,
  outbox_id   bigint NOT NULL,
  sync_id     bigint NOT NULL,
  table_name  text   NOT NULL,
  op          text   NOT NULL,
  row_key     jsonb  NOT NULL,
  after       jsonb,
  reason      text   NOT NULL CHECK (reason IN ('failed', 'waiting')),
  error       text,
  attempts    integer NOT NULL DEFAULT 0,
  parked_at   timestamptz NOT NULL DEFAULT now(),
  retried_at  timestamptz,
  UNIQUE (sink, outbox_id)
);
CREATE INDEX IF NOT EXISTS dead_letters_key ON cdc.dead_letters (sink, table_name, row_key);

-- The highest outbox id pruned: a sink whose cursor is below it missed events and bootstraps.
CREATE TABLE IF NOT EXISTS cdc.outbox_pruned (
  only_row        boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  pruned_through  bigint NOT NULL DEFAULT 0,
  pruned_at       timestamptz
);
INSERT INTO cdc.outbox_pruned (only_row) VALUES (true) ON CONFLICT DO NOTHING;
CREATE INDEX IF NOT EXISTS outbox_created ON cdc.outbox (created_at);

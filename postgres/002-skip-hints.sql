-- Skip hints: what MySQL's information_schema.TABLES.UPDATE_TIME said when a table was last
-- fully scanned, and when. See cdc-daemon/src/snapshot/change-hints.ts for the rule.
ALTER TABLE cdc.tables ADD COLUMN IF NOT EXISTS skip_hint jsonb;
ALTER TABLE cdc.sync_history ADD COLUMN IF NOT EXISTS tables_skipped integer NOT NULL DEFAULT 0;
ALTER TABLE cdc.sync_history_tables ADD COLUMN IF NOT EXISTS skipped boolean NOT NULL DEFAULT false;

-- Retention (record/history-retention.ts): no-change and skipped cycles older than the window
-- are rolled up per hour into the hour's first row, which then counts them in rolled_up.
ALTER TABLE cdc.sync_history ADD COLUMN IF NOT EXISTS rolled_up integer;
CREATE INDEX IF NOT EXISTS sync_history_rollup ON cdc.sync_history (started_at) WHERE rolled_up IS NULL AND status IN ('no_changes', 'skipped');

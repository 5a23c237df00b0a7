-- A big table's first load writes its mirror alone; the first versions of the loaded rows follow
-- in later cycles (apply/history-backfill.ts). Set while some are still to be written:
--   {"at": <the load's snapshot time>, "syncId": <the load's sync id>, "after": <mirror key | null>}
ALTER TABLE cdc.tables ADD COLUMN IF NOT EXISTS history_backfill jsonb;

-- Manners towards MySQL (snapshot/chunk-pacer.ts): how long a cycle's sweep waited for a busy
-- server, and the chunk size it worked to.
ALTER TABLE cdc.sync_history ADD COLUMN IF NOT EXISTS paused_ms integer NOT NULL DEFAULT 0;
ALTER TABLE cdc.sync_history ADD COLUMN IF NOT EXISTS chunk_rows integer;

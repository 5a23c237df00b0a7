-- A resync while a table loads must stop that load: every load batch commits only while the
-- table's generation is the one the load started with (checked under the cycle lock).
-- `reload`: the table is loaded again over a kept history (resync), so the load compares each
-- row with its open history version instead of writing a second one.
ALTER TABLE cdc.tables ADD COLUMN IF NOT EXISTS load_generation bigint NOT NULL DEFAULT 0;
ALTER TABLE cdc.tables ADD COLUMN IF NOT EXISTS reload boolean NOT NULL DEFAULT false;

-- A chunk whose rows only changed in place (updates, no insert, delete or split) gets its new
-- row hashes appended here instead of its whole row-state blob rewritten: 20 bytes a changed row
-- (where its hashes are in `rows`, uint32; the two new hashes) against ~30 bytes for every row
-- of the chunk. Applied in order on read; folded into `rows` once it passes an eighth of it.
-- See cdc-daemon/src/apply/state-store.ts.
ALTER TABLE cdc.chunk_rows ADD COLUMN IF NOT EXISTS patch bytea NOT NULL DEFAULT ''::bytea;

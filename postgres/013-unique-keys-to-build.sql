-- The mirror's unique keys (other than its row identity) a first load dropped, to build again
-- once it is done (apply/mirror-ddl.ts, buildUniqueKeys). Kept while one cannot be built yet:
-- a load reads its batches at different instants, so a value MySQL moved from a row it had
-- loaded to one it had not is held twice until the next cycle brings the first row in line.
ALTER TABLE cdc.tables ADD COLUMN IF NOT EXISTS keys_to_build text[];

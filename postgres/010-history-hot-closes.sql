-- Closing a history version (setting its valid_to) becomes a HOT update: no index reads valid_to
-- any more, and each page keeps room for the closed versions (mirror-ddl.ts, HISTORY_FILLFACTOR).
-- The open-version indexes go; the as-of index finds a key's open version. The fill factor
-- applies to pages written from now on (VACUUM FULL history.<table> rewrites the old ones).
DO $$
DECLARE
  r record;
BEGIN
  FOR r IN
    SELECT i.indexrelid::regclass AS idx
      FROM pg_index i
      JOIN pg_class t ON t.oid = i.indrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace
     WHERE n.nspname = 'history' AND i.indpred IS NOT NULL
       AND pg_get_expr(i.indpred, i.indrelid) = '(valid_to IS NULL)'
  LOOP
    EXECUTE format('DROP INDEX %s', r.idx);
  END LOOP;
  FOR r IN
    SELECT t.oid::regclass AS tbl
      FROM pg_class t
      JOIN pg_namespace n ON n.oid = t.relnamespace
     WHERE n.nspname = 'history' AND t.relkind = 'r'
  LOOP
    EXECUTE format('ALTER TABLE %s SET (fillfactor = 85)', r.tbl);
  END LOOP;
END $$;

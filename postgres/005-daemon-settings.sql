-- Settings of the running daemon that people reading the mirror need to know (the console shows
-- how late a change can reach the mirror). Written by the daemon when it takes the lock.
CREATE TABLE IF NOT EXISTS cdc.daemon_settings (
  name        text PRIMARY KEY,
  value       jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

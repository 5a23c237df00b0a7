-- Sessions end when their account changes: every session remembers the account's
-- session_version at login, and a request whose version no longer matches (password, role
-- changed; account disabled) is logged out. A disabled account keeps its row (and history) but
-- cannot log in.
-- Written for both MySQL 8 and MariaDB, and idempotent (the docker init may have run it before
-- the portal's migrate records it): columns are added only when information_schema lacks them.
SET @add_version = (
  SELECT IF(COUNT(*) = 0,
    'ALTER TABLE accounts ADD COLUMN session_version INT UNSIGNED NOT NULL DEFAULT 0',
    'DO 0')
  FROM information_schema.columns
  WHERE table_schema = DATABASE() AND table_name = 'accounts' AND column_name = 'session_version');
PREPARE add_version FROM @add_version;
EXECUTE add_version;
DEALLOCATE PREPARE add_version;

SET @add_disabled = (
  SELECT IF(COUNT(*) = 0,
    'ALTER TABLE accounts ADD COLUMN disabled_at DATETIME NULL DEFAULT NULL',
    'DO 0')
  FROM information_schema.columns
  WHERE table_schema = DATABASE() AND table_name = 'accounts' AND column_name = 'disabled_at');
PREPARE add_disabled FROM @add_disabled;
EXECUTE add_disabled;
DEALLOCATE PREPARE add_disabled;

-- Usernames are lower-case ASCII from now on (the portal lower-cases what is typed at login).
-- The case-insensitive unique key already rules out two accounts differing only in case.
UPDATE accounts SET username = LOWER(username) WHERE username <> LOWER(username) COLLATE utf8mb4_bin;

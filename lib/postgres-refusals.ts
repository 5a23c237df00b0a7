/**
 * PostgreSQL refusing the account or database of POSTGRES_URL, by SQLSTATE: the remedy is the
 * operator's. Shared by the daemon's error classification and every CLI's one-line failures.
 */
export const PG_REFUSED: Readonly<Record<string, string>> = {
  '28P01': 'PostgreSQL refused the password of the POSTGRES_URL account; fix POSTGRES_URL.',
  '28000':
    'PostgreSQL refused the POSTGRES_URL account (no such role, or pg_hba.conf rejects it); create the role or fix POSTGRES_URL.',
  '3D000': 'The POSTGRES_URL database does not exist; create it (createdb NAME) or fix POSTGRES_URL.',
};

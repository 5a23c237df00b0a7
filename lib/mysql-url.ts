/**
 * The database and account a mysql:// URL names, and the same URL without the database (every
 * option it carries kept, `?socketPath=` included), for a connection made before the database
 * exists. Clients take the URL whole (mysql2's `uri`), so no option is lost on the way.
 */
export function mysqlUrlParts(url: string): { database: string; user: string; serverUri: string } {
  const u = new URL(url);
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  u.pathname = '/';
  return { database, user: decodeURIComponent(u.username), serverUri: u.toString() };
}

/** Quoted identifiers, for the names SQL cannot take as parameters (tables, columns, databases). */

/** A PostgreSQL identifier, quoted. */
export function pgIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A MySQL identifier, quoted. */
export function mysqlIdent(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pgIdent } from '../../../lib/sql-identifiers';

/** A PostgreSQL identifier, quoted (the daemon's short name for lib's pgIdent). */
export const pgi = pgIdent;

/**
 * Streams lines (COPY text format, without newlines) into `COPY target FROM STDIN`, with
 * backpressure: the producer (a MySQL stream) is only pulled as fast as PostgreSQL takes rows.
 */
export async function copyLines(
  client: PoolClient,
  target: string,
  lines: AsyncIterable<string | string[]> | Iterable<string | string[]>,
): Promise<void> {
  async function* withNewlines() {
    let buf = '';
    for await (const item of lines) {
      if (typeof item === 'string') buf += `${item}\n`;
      else if (item.length > 0) buf += `${item.join('\n')}\n`;
      if (buf.length > 64 * 1024) {
        yield buf;
        buf = '';
      }
    }
    if (buf) yield buf;
  }
  await pipeline(Readable.from(withNewlines()), client.query(copyFrom(`COPY ${target} FROM STDIN`)));
}

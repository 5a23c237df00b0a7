import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
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

/** `PGCOPY\n\377\r\n\0`, flags, header extension length: what starts a binary COPY. */
const BINARY_COPY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/**
 * The one bytea value a `COPY (SELECT <bytea>) TO STDOUT (FORMAT binary)` returns, as bytes
 * (undefined when it returned no row or NULL). A plain SELECT returns bytea as hex text, which
 * node-postgres decodes into a string twice the value's size and then into a Buffer: for
 * row-state blobs of a few hundred KB, each a large V8 string, that drove most of a churn
 * cycle's major GCs.
 */
export async function copyOutBytea(client: PoolClient, query: string): Promise<Buffer | undefined> {
  const parts: Buffer[] = [];
  for await (const part of client.query(copyTo(`COPY (${query}) TO STDOUT (FORMAT binary)`)))
    parts.push(part as Buffer);
  const out = Buffer.concat(parts);
  if (out.length < 19 || !out.subarray(0, 11).equals(BINARY_COPY_SIGNATURE))
    throw new Error('COPY TO STDOUT (FORMAT binary) did not return its signature');
  let at = 19 + out.readInt32BE(15);
  const fields = out.readInt16BE(at);
  if (fields === -1) return undefined;
  if (fields !== 1) throw new Error(`COPY returned ${fields} columns where one was expected`);
  const length = out.readInt32BE(at + 2);
  at += 6;
  return length === -1 ? undefined : out.subarray(at, at + length);
}

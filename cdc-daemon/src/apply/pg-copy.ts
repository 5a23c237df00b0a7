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

/** Sends COPY text already in bytes (CopyText.take) into `COPY target FROM STDIN`. */
export async function copyText(client: PoolClient, target: string, text: Buffer): Promise<void> {
  await pipeline(Readable.from([text]), client.query(copyFrom(`COPY ${target} FROM STDIN`)));
}

/** `buf` with room for `n` more bytes after `used` (itself, or a copy twice as large). */
export function withRoom(buf: Buffer, used: number, n: number): Buffer {
  if (used + n <= buf.length) return buf;
  const next = Buffer.allocUnsafe(Math.max(buf.length * 2, used + n));
  buf.copy(next, 0, 0, used);
  return next;
}

/**
 * COPY text lines gathered as UTF-8 bytes, outside the JavaScript heap. A load batch is held
 * until written, beside the next one being read: as strings, its rows outlived the young
 * generation and drove most of a load's major GCs, and each of its two COPYs (mirror, history)
 * joined and encoded them again.
 */
export class CopyText {
  private buf: Buffer = Buffer.allocUnsafe(1024 * 1024);
  private used = 0;
  rows = 0;

  add(line: string): void {
    // A UTF-16 unit is at most 3 bytes of UTF-8, plus the newline.
    this.buf = withRoom(this.buf, this.used, 3 * line.length + 1);
    this.used += this.buf.write(line, this.used, 'utf8');
    this.buf[this.used++] = 0x0a;
    this.rows++;
  }

  /** Bytes of the lines so far. */
  get bytes(): number {
    return this.used;
  }

  /** The lines so far, newline-terminated (the builder's own buffer: add nothing after). */
  take(): Buffer {
    return this.buf.subarray(0, this.used);
  }
}

/** `PGCOPY\n\377\r\n\0`, flags, header extension length: what starts a binary COPY. */
const BINARY_COPY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/**
 * The rows a `COPY (SELECT ...) TO STDOUT (FORMAT binary)` returns, each value as its bytes
 * (undefined for NULL; text as UTF-8, bytea as is). A plain SELECT returns bytea as hex text,
 * which node-postgres decodes into a string twice the value's size and then into a Buffer: for
 * row-state blobs of a few hundred KB, each a large V8 string, that drove most of a churn
 * cycle's major GCs.
 */
export async function copyOutRows(client: PoolClient, query: string): Promise<(Buffer | undefined)[][]> {
  const parts: Buffer[] = [];
  for await (const part of client.query(copyTo(`COPY (${query}) TO STDOUT (FORMAT binary)`)))
    parts.push(part as Buffer);
  const out = Buffer.concat(parts);
  if (out.length < 19 || !out.subarray(0, 11).equals(BINARY_COPY_SIGNATURE))
    throw new Error('COPY TO STDOUT (FORMAT binary) did not return its signature');
  let at = 19 + out.readInt32BE(15);
  const rows: (Buffer | undefined)[][] = [];
  for (let fields = out.readInt16BE(at); fields !== -1; fields = out.readInt16BE(at)) {
    at += 2;
    const row: (Buffer | undefined)[] = [];
    for (let f = 0; f < fields; f++) {
      const length = out.readInt32BE(at);
      at += 4;
      row.push(length === -1 ? undefined : out.subarray(at, at + length));
      if (length > 0) at += length;
    }
    rows.push(row);
  }
  return rows;
}

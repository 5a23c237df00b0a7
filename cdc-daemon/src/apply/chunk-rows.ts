/**
 * The per-chunk row state codec (pure). A record per row: key length (uint16 BE), key (UTF-8),
 * MySQL row hash (uint64 BE), xxhash64 of the COPY text (uint64 BE), copies (uint32 BE).
 * Records simply concatenate, so merging two chunks is concatenating their blobs.
 */
export interface RowEntry {
  /** MySQL's 64-bit row hash, decimal. */
  mh: string;
  /** xxhash64 of the row's COPY text, signed decimal. */
  hash: string;
  copies: number;
}

const FIXED = 2 + 8 + 8 + 4;

export function encodeChunkRows(entries: Iterable<[string, RowEntry]>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, e] of entries) {
    const k = Buffer.from(key, 'utf8');
    const b = Buffer.allocUnsafe(FIXED + k.length);
    b.writeUInt16BE(k.length, 0);
    k.copy(b, 2);
    b.writeBigUInt64BE(BigInt(e.mh), 2 + k.length);
    b.writeBigInt64BE(BigInt(e.hash), 10 + k.length);
    b.writeUInt32BE(e.copies, 18 + k.length);
    parts.push(b);
  }
  return Buffer.concat(parts);
}

export function decodeChunkRows(blob: Buffer, into = new Map<string, RowEntry>()): Map<string, RowEntry> {
  let o = 0;
  while (o < blob.length) {
    const n = blob.readUInt16BE(o);
    const key = blob.toString('utf8', o + 2, o + 2 + n);
    o += 2 + n;
    into.set(key, { mh: blob.readBigUInt64BE(o).toString(), hash: blob.readBigInt64BE(o + 8).toString(), copies: blob.readUInt32BE(o + 16) });
    o += 20;
  }
  return into;
}

/** Accumulates a chunk's new state as the diff walks it. */
export class ChunkRowsBuilder {
  private parts: Buffer[] = [];
  add(key: string, e: RowEntry): void {
    this.parts.push(encodeChunkRows([[key, e]]));
  }
  /** The blob so far, and a fresh start for the next chunk. */
  take(): Buffer {
    const b = Buffer.concat(this.parts);
    this.parts = [];
    return b;
  }
}

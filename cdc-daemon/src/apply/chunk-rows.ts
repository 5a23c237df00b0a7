/**
 * The per-chunk row state codec (pure). A record per row: key length (uint16 BE), key (UTF-8),
 * MySQL row hash (8 bytes), xxhash64 of the COPY text (8 bytes), copies (uint32 BE).
 * Records simply concatenate, so merging two chunks is concatenating their blobs.
 */
export interface RowEntry {
  /** MySQL's 64-bit row hash, 16 hex digits. */
  mh: string;
  /** xxhash64 of the row's COPY text, 16 hex digits. */
  hash: string;
  copies: number;
}

const FIXED = 2 + 8 + 8 + 4;

export function encodeChunkRows(entries: Iterable<[string, RowEntry]>): Buffer {
  const b = new ChunkRowsBuilder();
  for (const [key, e] of entries) b.add(key, e);
  return b.take();
}

export function decodeChunkRows(blob: Buffer, into = new Map<string, RowEntry>()): Map<string, RowEntry> {
  let o = 0;
  while (o < blob.length) {
    const n = blob.readUInt16BE(o);
    const key = blob.toString('utf8', o + 2, o + 2 + n);
    o += 2 + n;
    into.set(key, {
      mh: blob.toString('hex', o, o + 8),
      hash: blob.toString('hex', o + 8, o + 16),
      copies: blob.readUInt32BE(o + 16),
    });
    o += 20;
  }
  return into;
}

/** Accumulates a chunk's new state in one growing buffer as the diff walks it. */
export class ChunkRowsBuilder {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private used = 0;

  add(key: string, e: RowEntry): void {
    const keyBytes = Buffer.byteLength(key, 'utf8');
    this.reserve(FIXED + keyBytes);
    const b = this.buf;
    let o = this.used;
    b.writeUInt16BE(keyBytes, o);
    b.write(key, o + 2, keyBytes, 'utf8');
    o += 2 + keyBytes;
    b.write(e.mh, o, 8, 'hex');
    b.write(e.hash, o + 8, 8, 'hex');
    b.writeUInt32BE(e.copies, o + 16);
    this.used = o + 20;
  }

  /** The blob so far (a copy), and a fresh start for the next chunk. */
  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.used));
    this.used = 0;
    return out;
  }

  private reserve(n: number): void {
    if (this.used + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + n));
    this.buf.copy(next, 0, 0, this.used);
    this.buf = next;
  }
}

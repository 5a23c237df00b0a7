/**
 * The per-chunk row state codec (pure). A record per row: key length (uint16 BE), key (UTF-8),
 * MySQL-side row hash (8 bytes: keyed tables, xxhash64 of the row's canonical form as MySQL
 * builds it; keyless, MySQL's own SHA-1-based hash), xxhash64 of the COPY text (8 bytes), copies
 * (uint32 BE).
 * Records simply concatenate, so merging two chunks is concatenating their blobs.
 */
export interface RowEntry {
  /** The MySQL-side 64-bit row hash (see above), 16 hex digits. */
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
  for (let o = 0; o < blob.length; o = recordEnd(blob, o)) into.set(recordKey(blob, o), recordEntry(blob, o));
  return into;
}

const recordKey = (blob: Buffer, o: number) => blob.toString('utf8', o + 2, o + 2 + blob.readUInt16BE(o));
const recordEnd = (blob: Buffer, o: number) => o + 2 + blob.readUInt16BE(o) + 20;

function recordEntry(blob: Buffer, o: number): RowEntry {
  const at = o + 2 + blob.readUInt16BE(o);
  return {
    mh: blob.toString('hex', at, at + 8),
    hash: blob.toString('hex', at + 8, at + 16),
    copies: blob.readUInt32BE(at + 16),
  };
}

/**
 * Accumulates a chunk's new state in one growing buffer as the diff walks it. Records carried
 * over as stored arrive one after the other from the same blob: a run of them is copied in one
 * go when something else comes (a copy per row was a fifth of a churn cycle's diff time).
 */
export class ChunkRowsBuilder {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private used = 0;
  private run: { blob: Buffer; start: number; end: number } | undefined;

  add(key: string, e: RowEntry): void {
    const o = this.addKey(key);
    this.buf.write(e.mh, o, 8, 'hex');
    this.buf.write(e.hash, o + 8, 8, 'hex');
    this.buf.writeUInt32BE(e.copies, o + 16);
  }

  /** `add` for a row read once (a load), its two hashes as rowHash64 gives them. */
  addHashed(key: string, mh: bigint, hash: bigint): void {
    const o = this.addKey(key);
    this.buf.writeBigUInt64BE(mh, o);
    this.buf.writeBigUInt64BE(hash, o + 8);
    this.buf.writeUInt32BE(1, o + 16);
  }

  /** Reserves a record and writes its key: returns where its hashes go. */
  private addKey(key: string): number {
    this.flushRun();
    const keyBytes = Buffer.byteLength(key, 'utf8');
    this.reserve(FIXED + keyBytes);
    const o = this.used;
    this.buf.writeUInt16BE(keyBytes, o);
    this.buf.write(key, o + 2, keyBytes, 'utf8');
    this.used = o + FIXED + keyBytes;
    return o + 2 + keyBytes;
  }

  /** Appends records as stored (bytes `start` to `end` of a blob), unchanged. */
  addRaw(blob: Buffer, start: number, end: number): void {
    if (this.run?.blob === blob && this.run.end === start) this.run.end = end;
    else {
      this.flushRun();
      this.run = { blob, start, end };
    }
  }

  /** The blob so far (a copy), and a fresh start for the next chunk. */
  take(): Buffer {
    this.flushRun();
    const out = Buffer.from(this.buf.subarray(0, this.used));
    this.used = 0;
    return out;
  }

  private flushRun(): void {
    const run = this.run;
    if (run === undefined) return;
    this.run = undefined;
    this.reserve(run.end - run.start);
    run.blob.copy(this.buf, this.used, run.start, run.end);
    this.used += run.end - run.start;
  }

  private reserve(n: number): void {
    if (this.used + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + n));
    this.buf.copy(next, 0, 0, this.used);
    this.buf = next;
  }
}

/**
 * A keyed chunk's stored rows, walked in the order they were stored (MySQL's key order) while
 * MySQL's rows of the chunk arrive in that same order. An unchanged row is recognised by its
 * MySQL row hash alone (the hash covers the key columns too) and its record carried over as
 * bytes: no key encoding, no hex, no map. The first row that is not the next stored one (an
 * insert, or a stored row deleted in MySQL) switches to lookups by key for the rest of the chunk.
 */
export class StoredChunkRows {
  private next = 0;
  private byKey: Map<string, number> | undefined;

  constructor(private readonly blob: Buffer) {}

  /** Copies the next stored record into `out` if its MySQL hash is `hi`:`lo` (two uint32 halves). */
  carryIfNext(hi: number, lo: number, out: ChunkRowsBuilder): boolean {
    if (this.byKey !== undefined || this.next >= this.blob.length) return false;
    const b = this.blob;
    const mhAt = this.next + 2 + b.readUInt16BE(this.next);
    if (b.readUInt32BE(mhAt) !== hi || b.readUInt32BE(mhAt + 4) !== lo) return false;
    out.addRaw(b, this.next, mhAt + 20);
    this.next = mhAt + 20;
    return true;
  }

  /** Takes the stored entry of `key`, if any: the next record when it is that key, else by lookup. */
  take(key: string): RowEntry | undefined {
    if (this.byKey === undefined) {
      if (this.next >= this.blob.length) return undefined;
      if (recordKey(this.blob, this.next) === key) {
        const entry = recordEntry(this.blob, this.next);
        this.next = recordEnd(this.blob, this.next);
        return entry;
      }
      this.byKey = new Map();
      for (let o = this.next; o < this.blob.length; o = recordEnd(this.blob, o))
        this.byKey.set(recordKey(this.blob, o), o);
    }
    const at = this.byKey.get(key);
    if (at === undefined) return undefined;
    this.byKey.delete(key);
    return recordEntry(this.blob, at);
  }

  /** The keys of the stored rows no MySQL row took: deleted in MySQL. */
  *untaken(): Generator<string> {
    if (this.byKey !== undefined) {
      yield* this.byKey.keys();
      return;
    }
    for (let o = this.next; o < this.blob.length; o = recordEnd(this.blob, o)) yield recordKey(this.blob, o);
  }
}

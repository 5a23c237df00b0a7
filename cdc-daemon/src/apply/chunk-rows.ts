import { withRoom } from './pg-copy';

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

/** Sets the two hashes of the record whose hashes are at `at` (as addHashed returned it). */
export function patchRecord(blob: Buffer, at: number, e: Pick<RowEntry, 'mh' | 'hash'>): void {
  blob.write(e.mh, at, 8, 'hex');
  blob.write(e.hash, at + 8, 8, 'hex');
}

/** The blob without the records whose hashes are at `ats` (as addHashed returned them). */
export function withoutRecords(blob: Buffer, ats: number[]): Buffer {
  const keep: Buffer[] = [];
  let from = 0;
  for (let o = 0; o < blob.length; o = recordEnd(blob, o)) {
    const at = o + 2 + blob.readUInt16BE(o);
    if (!ats.includes(at)) continue;
    keep.push(blob.subarray(from, o));
    from = recordEnd(blob, o);
  }
  keep.push(blob.subarray(from));
  return Buffer.concat(keep);
}

/**
 * A patch of a blob whose records changed their hashes in place (apply/state-store.ts): 20 bytes
 * a record, where its hashes are in the blob (uint32 BE, as addHashed returned it) and the two
 * hashes now there.
 */
const PATCH_RECORD = 20;

/** The patch of the records whose hashes are at `ats` in `blob`, as the blob holds them now. */
export function encodePatch(blob: Buffer, ats: number[]): Buffer {
  const patch = Buffer.allocUnsafe(ats.length * PATCH_RECORD);
  ats.forEach((at, i) => {
    patch.writeUInt32BE(at, i * PATCH_RECORD);
    blob.copy(patch, i * PATCH_RECORD + 4, at, at + 16);
  });
  return patch;
}

/** The blob with a patch's records applied in order (in place: the blob is the caller's own). */
export function applyPatch(blob: Buffer, patch: Buffer): Buffer {
  for (let o = 0; o + PATCH_RECORD <= patch.length; o += PATCH_RECORD)
    patch.copy(blob, patch.readUInt32BE(o), o + 4, o + PATCH_RECORD);
  return blob;
}

/**
 * Accumulates a chunk's new state in one growing buffer as the diff walks it. Records carried
 * over as stored arrive one after the other from the same blob: a run of them is copied in one
 * go when something else comes (a copy per row was a fifth of a churn cycle's diff time).
 */
export class ChunkRowsBuilder {
  private buf: Buffer = Buffer.allocUnsafe(64 * 1024);
  private view = viewOf(this.buf);
  private used = 0;
  private run: { blob: Buffer; start: number; end: number } | undefined;

  add(key: string, e: RowEntry): void {
    const o = this.addKey(key);
    this.buf.write(e.mh, o, 8, 'hex');
    this.buf.write(e.hash, o + 8, 8, 'hex');
    this.buf.writeUInt32BE(e.copies, o + 16);
  }

  /**
   * `add` for a row read once (a load), its two hashes as rowHash64 gives them. Returns where
   * the record's hashes are in the blob `take` will return, for a record whose COPY hash is
   * only known later (see patchRecord).
   */
  addHashed(key: string, mh: bigint, hash: bigint): number {
    const o = this.addKey(key);
    // DataView's setter is a builtin; Buffer's writeBigUInt64BE splits the bigint in JavaScript
    // (2M of them: 33 against 250 ms, a loaded row writes two).
    this.view.setBigUint64(o, mh);
    this.view.setBigUint64(o + 8, hash);
    this.buf.writeUInt32BE(1, o + 16);
    return o;
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
    const next = withRoom(this.buf, this.used, n);
    if (next === this.buf) return;
    this.buf = next;
    this.view = viewOf(next);
  }
}

const viewOf = (b: Buffer) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const scratch = new DataView(new ArrayBuffer(8));

/** How far past the cursor a key is looked for before the chunk's records are indexed by key. */
const LOOK_AHEAD = 16;

/**
 * A keyed chunk's stored rows, walked in the order they were stored (MySQL's key order) while
 * MySQL's rows of the chunk arrive in that same order. An unchanged row is recognised by its
 * MySQL row hash alone (the hash covers the key columns too) and its record carried over as
 * bytes: no key encoding, no hex, no map. A row out of step does not end the walk: a stored row
 * deleted in MySQL is stepped over (the next few records are compared by key first) and
 * remembered as skipped, an insert is looked up in an index of the chunk's keys built once, and
 * the walk resumes after whatever record was taken. (Before, the first delete or insert of a
 * chunk turned every later row of it into a key encoding and a map lookup: with uniform churn,
 * nearly every row of every changed chunk.)
 */
export class StoredChunkRows {
  private next = 0;
  /** Every record's offset by key, built at the first key not found near the cursor. */
  private byKey: Map<string, number> | undefined;
  /** Records the walk stepped over and nothing took yet (deleted in MySQL, or met out of order). */
  private readonly skipped = new Map<string, number>();
  /**
   * Every record so far was taken where it stood, in order: the new state has the stored one's
   * layout, so hashes changed in place can be saved as a patch (state-store.ts).
   */
  inPlace = true;

  constructor(private readonly blob: Buffer) {}

  /** Copies the next stored record into `out` if its MySQL hash is `mh` (as rowHash64 gives it). */
  carryIfNext(mh: bigint, out: ChunkRowsBuilder): boolean {
    if (this.next >= this.blob.length) return false;
    const b = this.blob;
    const mhAt = this.next + 2 + b.readUInt16BE(this.next);
    // Compared as two uint32 halves through a DataView: shifting and masking the bigint
    // allocates (1M rows: ~20 against ~140 ms).
    scratch.setBigUint64(0, mh);
    if (b.readUInt32BE(mhAt) !== scratch.getUint32(0) || b.readUInt32BE(mhAt + 4) !== scratch.getUint32(4))
      return false;
    out.addRaw(b, this.next, mhAt + 20);
    this.next = mhAt + 20;
    return true;
  }

  /** Takes the stored entry of `key`, if any, and moves the walk past it. */
  take(key: string): RowEntry | undefined {
    const b = this.blob;
    const skippedAt = this.skipped.get(key);
    if (skippedAt !== undefined) {
      this.skipped.delete(key);
      this.inPlace = false;
      return recordEntry(b, skippedAt);
    }
    let at: number | undefined;
    let o = this.next;
    for (let i = 0; i < LOOK_AHEAD && o < b.length; i++, o = recordEnd(b, o))
      if (recordKey(b, o) === key) {
        at = o;
        break;
      }
    if (at === undefined) {
      this.inPlace = false;
      // Not near the cursor; past the end of the blob, certainly not stored.
      if (o >= b.length) return undefined;
      this.byKey ??= indexKeys(b);
      at = this.byKey.get(key);
      // Before the cursor and not skipped: taken already (a key MySQL cannot return twice).
      if (at === undefined || at < this.next) return undefined;
    }
    if (at !== this.next) this.inPlace = false;
    for (let s = this.next; s < at; s = recordEnd(b, s)) this.skipped.set(recordKey(b, s), s);
    this.next = recordEnd(b, at);
    return recordEntry(b, at);
  }

  /** The keys of the stored rows no MySQL row took: deleted in MySQL. */
  *untaken(): Generator<string> {
    yield* this.skipped.keys();
    for (let o = this.next; o < this.blob.length; o = recordEnd(this.blob, o)) yield recordKey(this.blob, o);
  }
}

function indexKeys(blob: Buffer): Map<string, number> {
  const byKey = new Map<string, number>();
  for (let o = 0; o < blob.length; o = recordEnd(blob, o)) byKey.set(recordKey(blob, o), o);
  return byKey;
}

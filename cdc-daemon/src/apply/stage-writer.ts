import type { PoolClient } from 'pg';
import { CopyText, copyText } from './pg-copy';
import { type ChunkRowsUpdate, saveChunkRows } from './state-store';

/** Chunks whose stage lines and new row states go to PostgreSQL together. */
const CHUNKS_PER_WRITE = 8;
/** ...or fewer, once their lines or states reach this many bytes. */
const BYTES_PER_WRITE = 4 * 1024 * 1024;
/** Bytes gathered for writes PostgreSQL has not taken yet, past which the walk waits for them. */
const MAX_PENDING_BYTES = 32 * 1024 * 1024;

/**
 * A table's stage lines and its chunks' new row states, gathered over a few changed chunks and
 * written in one COPY and one save (state-store.ts's saveChunkRows), on the cycle's connection,
 * while the next chunks are walked. One COPY and one save per chunk cost the cycle's thread two
 * socket writes and two wake-ups of PostgreSQL for each of the 550 chunks of a university churn
 * cycle, and the walk of a chunk waited for PostgreSQL to end that chunk's COPY. Each write
 * follows the one before, the first the stage's creation (which waits for the tables before to
 * merge: SyncTableOptions.after); the walk only waits once MAX_PENDING_BYTES are gathered and
 * not yet taken.
 */
export class StageWriter {
  private text = new CopyText();
  private states: ChunkRowsUpdate[] = [];
  private stateBytes = 0;
  private chunks = 0;
  /** The last write queued; a failure surfaces where it is awaited (done, settled). */
  private writing: Promise<void>;
  private pendingBytes = 0;

  /** `created`: the stage's creation, which the first write follows. */
  constructor(
    private readonly client: PoolClient,
    private readonly table: string,
    private readonly stage: string,
    created: Promise<unknown>,
  ) {
    this.writing = created.then(() => {});
    this.writing.catch(() => {});
  }

  /** Stage lines (COPY text format, without newlines) of the chunk being diffed. */
  add(lines: string[]): void {
    for (const line of lines) this.text.add(line);
  }

  /** A chunk is diffed: its new row states go with its lines. */
  chunkDone(states: ChunkRowsUpdate[]): void {
    this.states.push(...states);
    for (const s of states) this.stateBytes += s.patch?.length ?? s.rows.length;
    this.chunks++;
  }

  get full(): boolean {
    return this.chunks >= CHUNKS_PER_WRITE || this.text.bytes >= BYTES_PER_WRITE || this.stateBytes >= BYTES_PER_WRITE;
  }

  /** Queues what was gathered behind the writes before (waiting only past MAX_PENDING_BYTES). */
  async flush(): Promise<void> {
    if (this.pendingBytes >= MAX_PENDING_BYTES) await this.writing;
    const text = this.text;
    const states = this.states;
    const bytes = text.bytes + this.stateBytes;
    this.text = new CopyText();
    this.states = [];
    this.stateBytes = 0;
    this.chunks = 0;
    this.pendingBytes += bytes;
    this.writing = this.writing.then(async () => {
      if (text.rows > 0) await copyText(this.client, this.stage, text.take());
      if (states.length > 0) await saveChunkRows(this.client, this.table, states);
      this.pendingBytes -= bytes;
    });
    this.writing.catch(() => {});
  }

  /** Writes what is left and waits for every write. */
  async done(): Promise<void> {
    await this.flush();
    await this.writing;
  }

  /** The write in flight, for a caller that failed to surface its error first. */
  settled(): Promise<void> {
    return this.writing;
  }
}

import type { Pool, PoolClient } from 'pg';
import { nextChunkIds } from '../apply/state-store';

/** Chunk ids fetched at a time for split pieces (a sequence: unused ones are only a gap). */
const ID_BATCH = 256;

/** Chunk ids for split pieces, fetched in batches before a chunk is read (not while its COPY runs). */
export class IdPool {
  private ids: string[] = [];
  constructor(private readonly client: Pool | PoolClient) {}
  /** At least `n` ids, in order: every id the pool holds (a split takes what it needs from the front). */
  async reserve(n: number): Promise<string[]> {
    if (this.ids.length < n) this.ids.push(...(await nextChunkIds(this.client, Math.max(n, ID_BATCH))));
    return this.ids;
  }
  /** Drops the first `n` ids (used by the chunk just read). */
  consume(n: number): void {
    this.ids.splice(0, n);
  }
}

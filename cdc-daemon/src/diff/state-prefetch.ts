import type { Pool, PoolClient } from 'pg';
import { checkout } from '../apply/pg-tx';
import { loadChunkRowsOf } from '../apply/state-store';

/** Changed chunks whose stored states one read fetches (see loadChunkRowsOf). */
const STATES_PER_READ = 8;

/**
 * The stored row states of a table's changed chunks, in order, read STATES_PER_READ at a time.
 * With a pool, the next read is requested on a connection of its own as soon as a read's first
 * state is taken, so PostgreSQL reads it while MySQL streams and Node diffs those chunks. (A
 * chunk's state is only written after its diff, so the committed one is the one this cycle would
 * see.) One COPY per chunk cost the cycle's thread a socket write and a wake-up of PostgreSQL
 * each: 0.3 s of a university churn cycle.
 */
export class StatePrefetch {
  private readonly reads = new Map<number, Promise<Map<string, Buffer>>>();
  /** The second connection, with checkout's 'error' listener: an outage must not end the process. */
  private reader: ReturnType<typeof checkout> | undefined;
  private at = 0;
  constructor(
    private readonly client: PoolClient,
    pool: Pool | undefined,
    private readonly table: string,
    private readonly ids: string[],
  ) {
    if (pool) {
      this.reader = checkout(pool);
      this.reader.catch(() => {});
    }
  }
  async next(): Promise<Buffer> {
    const i = this.at++;
    const group = Math.floor(i / STATES_PER_READ);
    const states = this.read(group);
    this.reads.delete(group - 1);
    if (this.reader) this.read(group + 1);
    return (await states).get(this.ids[i]!) ?? Buffer.alloc(0);
  }
  private read(group: number): Promise<Map<string, Buffer>> {
    let states = this.reads.get(group);
    if (states === undefined) {
      const ids = this.ids.slice(group * STATES_PER_READ, (group + 1) * STATES_PER_READ);
      states = this.reader
        ? this.reader.then((r) => loadChunkRowsOf(r.client, this.table, ids))
        : loadChunkRowsOf(this.client, this.table, ids);
      states.catch(() => {});
      this.reads.set(group, states);
    }
    return states;
  }
  async close(): Promise<void> {
    for (const states of this.reads.values()) await states.catch(() => {});
    const reader = await this.reader?.catch(() => undefined);
    reader?.release();
  }
}

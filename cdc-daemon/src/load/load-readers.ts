import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Connection } from 'mysql2/promise';
import type { TablePlan } from '../catalog/plan-table';
import type { TableSchema } from '../catalog/table-schema';
import type { MappingOptions } from '../catalog/type-mapping';
import { type LoadBatch, type LoadRange, readLoadBatch } from './load-batch';

/** Where a table's load batches are read: `size` is how many may be read at once. */
export interface LoadReaders {
  readonly size: number;
  read(range: LoadRange, rows: number, chunkRows: number): Promise<LoadBatch>;
}

/** What each reader thread starts with. */
export interface ReaderData {
  mysqlUrl: string;
  mapping: MappingOptions;
}

/** One batch to read, as sent to a reader thread. */
export interface ReadTask {
  id: number;
  schema: TableSchema;
  range: LoadRange;
  size: number;
  chunkRows: number;
}

export interface ReadReply {
  id: number;
  batch?: LoadBatch;
  error?: {
    message: string;
    code?: unknown;
    errno?: unknown;
    sqlState?: unknown;
    sqlMessage?: unknown;
    fatal?: unknown;
  };
}

/** Batches read one at a time on the cycle's own connection (small tables, CDC_LOAD_READERS=1). */
export function inProcessReader(mysql: Connection, plan: TablePlan): LoadReaders {
  return {
    size: 1,
    read: (range, rows, chunkRows) => readLoadBatch(mysql, plan, range, rows, chunkRows),
  };
}

/**
 * Readers of load batches at once, each on a MySQL connection of its own: the main thread (on a
 * second connection, `local`) and reader threads. Parsing MySQL's rows, encoding them for COPY and
 * hashing them keeps one thread busy for the whole load: two loads side by side took 1.3x the
 * time of one for twice the rows on this 2-core machine (4.8M rows of `attendance` each: 31.5 s
 * against 20.8 s). Each thread costs ~20-30 MB of RSS (its own V8 heap and code): the main
 * thread, otherwise only handing batches to PostgreSQL, reads beside one thread by default.
 * Started at a cycle's first big table, they serve every table it loads.
 */
export class ReaderPool {
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly queue: { task: ReadTask; plan: TablePlan }[] = [];
  private readonly pending = new Map<number, { resolve: (b: LoadBatch) => void; reject: (e: unknown) => void }>();
  private readonly busy = new Set<Worker>();
  private localBusy = false;
  private nextId = 0;
  private failure: unknown;
  readonly size: number;

  constructor(
    data: ReaderData,
    threads: number,
    private readonly local?: Promise<Connection>,
  ) {
    this.size = threads + (local ? 1 : 0);
    // Its failure is the first local read's.
    local?.catch(() => {});
    for (let i = 0; i < threads; i++) {
      const worker = startReader(data);
      worker.on('message', (reply: ReadReply) => this.answered(worker, reply));
      // A thread that dies (out of memory, a bug) fails what it was reading and every read after.
      worker.on('error', (err) => this.fail(err));
      worker.on('exit', (code) => {
        if (code !== 0 || this.busy.has(worker)) this.fail(new Error(`a load reader thread exited (code ${code})`));
      });
      this.all.push(worker);
      this.idle.push(worker);
    }
  }

  /** The pool as one table's readers. */
  forTable(plan: TablePlan): LoadReaders {
    return {
      size: this.size,
      read: (range, rows, chunkRows) => this.read(plan, range, rows, chunkRows),
    };
  }

  read(plan: TablePlan, range: LoadRange, rows: number, chunkRows: number): Promise<LoadBatch> {
    if (this.failure) return Promise.reject(this.failure);
    const task: ReadTask = { id: this.nextId++, schema: plan.schema, range, size: rows, chunkRows };
    const done = new Promise<LoadBatch>((resolve, reject) => this.pending.set(task.id, { resolve, reject }));
    this.queue.push({ task, plan });
    this.dispatch();
    return done;
  }

  /** Lets each thread end its MySQL session, then ends the threads (at once after a failure, or 5 s). */
  async close(): Promise<void> {
    this.fail(new Error('the load readers were closed'));
    await Promise.all([
      this.local?.then((c) => c.end()).catch(() => {}),
      ...this.all.map(async (w) => {
        const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
        w.postMessage('close');
        const timer = setTimeout(() => void w.terminate(), 5_000);
        await exited;
        clearTimeout(timer);
      }),
    ]);
  }

  private dispatch(): void {
    while (this.queue.length > 0 && this.idle.length > 0) {
      const worker = this.idle.pop()!;
      const { task } = this.queue.shift()!;
      this.busy.add(worker);
      worker.postMessage(task);
    }
    if (this.queue.length > 0 && this.local && !this.localBusy) {
      const { task, plan } = this.queue.shift()!;
      this.localBusy = true;
      this.local
        .then((mysql) => readLoadBatch(mysql, plan, task.range, task.size, task.chunkRows))
        .then(
          (batch) => this.settle(task.id, batch),
          (err: unknown) => this.settle(task.id, undefined, err),
        )
        .finally(() => {
          this.localBusy = false;
          this.dispatch();
        });
    }
  }

  private answered(worker: Worker, reply: ReadReply): void {
    this.busy.delete(worker);
    this.idle.push(worker);
    this.settle(reply.id, reply.batch && asBuffers(reply.batch), reply.error && asError(reply.error));
    this.dispatch();
  }

  private settle(id: number, batch: LoadBatch | undefined, err?: unknown): void {
    const waiting = this.pending.get(id);
    this.pending.delete(id);
    if (err !== undefined) waiting?.reject(err);
    else waiting?.resolve(batch!);
  }

  private fail(err: unknown): void {
    this.failure ??= err;
    for (const w of this.pending.values()) w.reject(this.failure);
    this.pending.clear();
    this.queue.length = 0;
  }
}

/** The reader thread: the compiled file, or the TypeScript source through tsx (tests, `npm run cdc`). */
function startReader(data: ReaderData): Worker {
  const options = { workerData: data, resourceLimits: { maxOldGenerationSizeMb: 96, maxYoungGenerationSizeMb: 8 } };
  if (!__filename.endsWith('.ts')) return new Worker(path.join(__dirname, 'load-reader-worker.js'), options);
  const tsx = require.resolve('tsx/cjs/api');
  const source = path.join(__dirname, 'load-reader-worker.ts');
  return new Worker(`require(${JSON.stringify(tsx)}).register(); require(${JSON.stringify(source)});`, {
    ...options,
    eval: true,
  });
}

/** A reader's failure as the driver raised it: errors.ts tells MySQL's apart by these fields. */
function asError(e: NonNullable<ReadReply['error']>): Error {
  return Object.assign(new Error(e.message), e);
}

/** Buffers arrive from a thread as plain Uint8Arrays. */
function asBuffers(b: LoadBatch): LoadBatch {
  const buf = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  return { ...b, copy: buf(b.copy), chunks: b.chunks.map((c) => ({ ...c, rows: buf(c.rows) })) };
}

import { parentPort, workerData } from 'node:worker_threads';
import type { Connection } from 'mysql2/promise';
import { type TablePlan, planTable } from '../catalog/plan-table';
import { initRowHash } from '../diff/row-hash';
import { connectMysql } from '../snapshot/mysql-source';
import { readLoadBatch } from './load-batch';
import type { ReaderData, ReadReply, ReadTask } from './load-readers';

/**
 * A load reader thread (see load-readers.ts): reads the key ranges it is sent on a MySQL
 * connection of its own and answers with each batch read and encoded, one task at a time.
 */
const { mysqlUrl, mapping } = workerData as ReaderData;
let connection: Promise<Connection> | undefined;
/** The plan of the table being loaded (tables load one after the other). */
let cached: { schema: string; plan: TablePlan } | undefined;

function planOf(task: ReadTask): TablePlan {
  const schema = JSON.stringify(task.schema);
  if (cached?.schema !== schema) cached = { schema, plan: planTable(task.schema, mapping) };
  return cached.plan;
}

/** What the main thread needs of a failure: a driver error's fields (errors.ts reads them). */
function describeError(err: unknown): ReadReply['error'] {
  const e = (err ?? {}) as Record<string, unknown>;
  const out: NonNullable<ReadReply['error']> = { message: err instanceof Error ? err.message : String(err) };
  for (const k of ['code', 'errno', 'sqlState', 'sqlMessage', 'fatal'] as const) if (k in e) out[k] = e[k];
  return out;
}

parentPort!.on('message', (task: ReadTask | 'close') => {
  if (task === 'close') {
    // The connection ends with a COM_QUIT, then nothing holds the thread.
    void (connection ?? Promise.reject(new Error('none')))
      .then((c) => c.end())
      .catch(() => {})
      .finally(() => parentPort!.close());
    return;
  }
  void (async () => {
    try {
      await initRowHash();
      connection ??= connectMysql(mysqlUrl);
      const mysql = await connection;
      const batch = await readLoadBatch(mysql, planOf(task), task.range, task.size, task.chunkRows);
      // The batch's buffers move to the main thread rather than being copied (and left here for
      // a major GC to find): each is its own allocation, except one small enough to sit in
      // Node's shared pool, which is copied.
      const own = [batch.copy, ...batch.chunks.map((c) => c.rows)]
        .map((b) => b.buffer)
        .filter((b): b is ArrayBuffer => b instanceof ArrayBuffer && b.byteLength > Buffer.poolSize);
      parentPort!.postMessage({ id: task.id, batch } satisfies ReadReply, [...new Set(own)]);
    } catch (err) {
      // A connection that failed (or never opened) is opened again for the next task.
      const lost = connection;
      connection = undefined;
      void lost?.then((c) => c.destroy()).catch(() => {});
      parentPort!.postMessage({ id: task.id, error: describeError(err) } satisfies ReadReply);
    }
  })();
});

import cluster, { type Worker } from 'node:cluster';
import { ClusterMemoryStorePrimary, ClusterMemoryStoreWorker } from '@express-rate-limit/cluster-memory-store';
import type { Store } from 'express-rate-limit';
import type { Logger } from '../../lib/logger';

/**
 * The portal's worker processes. One Node process renders pages on one core; registration week
 * needs them all, so the primary forks `workers` processes that share the port (node:cluster
 * hands each new connection to the next worker). What workers must agree on goes through the
 * primary: the login rate limits (counted there, so a client gets the configured number of
 * attempts whichever worker answers) and staff course edits (every worker drops its held
 * catalogue and schedules before the edit is answered). Sessions live in MySQL, so any worker serves any session.
 */

/** A worker's view of its peers; absent when the portal runs as one process. */
export interface WorkerLink {
  /** A rate-limit store shared by every worker (one per limiter: `prefix` tells them apart). */
  rateLimitStore(prefix: string): Store;
  /**
   * Tells the other workers that staff changed courses; resolves once the primary has written
   * the news to each of them, so a request any of them takes after this one's response finds it.
   */
  announceCourseEdit(): Promise<void>;
  /** Runs `listener` when another worker announced a course edit. */
  onCourseEdit(listener: () => void): void;
}

const COURSE_EDIT = 'campus:course-edit';
const COURSE_EDIT_RELAYED = 'campus:course-edit-relayed';
/** An announcement the primary has not confirmed by then resolves all the same. */
const RELAY_WAIT_MS = 1_000;

/** More replacements than this within RESTART_WINDOW_MS stop the portal (a crash loop). */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;
/** Workers still running this long after a stop request are killed. */
const STOP_GRACE_MS = 15_000;

interface Message {
  type?: unknown;
  id?: unknown;
}

export function workerLink(): WorkerLink {
  const worker = cluster.worker;
  if (!worker) throw new Error('workerLink() runs in a cluster worker only');
  const relayed = new Map<number, () => void>();
  let next = 0;
  worker.on('message', (m: Message) => {
    if (m?.type === COURSE_EDIT_RELAYED && typeof m.id === 'number') relayed.get(m.id)?.();
  });
  return {
    rateLimitStore: (prefix) => new ClusterMemoryStoreWorker({ prefix }),
    announceCourseEdit: () =>
      new Promise<void>((resolve) => {
        const id = next++;
        const done = () => {
          clearTimeout(timer);
          relayed.delete(id);
          resolve();
        };
        const timer = setTimeout(done, RELAY_WAIT_MS);
        relayed.set(id, done);
        worker.send({ type: COURSE_EDIT, id });
      }),
    onCourseEdit: (listener) =>
      worker.on('message', (m: Message) => {
        if (m?.type === COURSE_EDIT) listener();
      }),
  };
}

/**
 * Runs the primary: forks `count` workers (this same script, `cluster.isWorker` true), relays
 * course edits between them, replaces a worker that dies, and on SIGTERM/SIGINT asks each to stop
 * gracefully (it finishes its requests), then exits 0 once all have (1 if one had to be killed).
 * Nothing is restarted in a loop: a worker that dies before it listened (the port taken, say)
 * or a sixth death within a minute makes the primary stop the others and exit 1.
 */
export function runPrimary(count: number, port: number, logger: Logger): void {
  new ClusterMemoryStorePrimary().init();
  const listened = new WeakSet<Worker>();
  const restarts: number[] = [];
  let stopping = false;
  let failed = false;
  let listening = 0;

  const fork = () =>
    // A message to a worker that is exiting fails (EPIPE): nothing to deliver to it any more.
    cluster.fork().on('error', (err) => logger.debug('message to a portal worker lost', { error: err.message }));
  const live = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);

  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping portal workers', { reason, workers: live().length });
    // SIGTERM: a worker stops gracefully; one still starting (no handler yet) just ends.
    for (const w of live()) w.process.kill('SIGTERM');
    setTimeout(() => {
      for (const w of live()) w.process.kill('SIGKILL');
      failed = true;
    }, STOP_GRACE_MS).unref();
  };

  // The sender hears back once the news is in every other worker's channel: a connection the
  // primary hands to one of them later travels the same channel, behind it.
  cluster.on('message', (from: Worker, m: Message) => {
    if (m?.type !== COURSE_EDIT) return;
    const peers = live().filter((w) => w !== from && w.isConnected());
    const sent = peers.map((w) => new Promise<void>((resolve) => w.send({ type: COURSE_EDIT }, () => resolve())));
    void Promise.all(sent).then(() => {
      if (from.isConnected()) from.send({ type: COURSE_EDIT_RELAYED, id: m.id });
    });
  });
  cluster.on('listening', (worker) => {
    listened.add(worker);
    listening += 1;
    if (listening === count)
      logger.info(`portal listening on http://localhost:${port} (${count} worker processes)`, { workers: count });
  });
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (code !== null && code !== 0) failed = true;
      if (live().length === 0) process.exit(failed ? 1 : 0);
      return;
    }
    const now = Date.now();
    while (restarts.length > 0 && restarts[0]! < now - RESTART_WINDOW_MS) restarts.shift();
    if (!listened.has(worker) || restarts.length >= MAX_RESTARTS) {
      const why = listened.has(worker) ? 'workers keep dying' : 'a portal worker stopped before it listened';
      logger.error(`${why}: stopping the portal`, { pid: worker.process.pid, code, signal });
      failed = true;
      stop(why);
      if (live().length === 0) process.exit(1);
      return;
    }
    logger.error('a portal worker died: starting another', { pid: worker.process.pid, code, signal });
    restarts.push(now);
    fork();
  });

  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  for (let i = 0; i < count; i++) fork();
}

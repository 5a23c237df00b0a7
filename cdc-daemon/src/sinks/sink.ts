import type { MirrorView } from '../outbox/mirror-view';

export const SINK_NAMES = ['redis', 'mongo', 'neo4j', 'elasticsearch'] as const;
export type SinkName = (typeof SINK_NAMES)[number];

/** One row of `cdc.outbox`: a row of `table` was inserted, updated or deleted by cycle `syncId`. */
export interface OutboxEvent {
  id: number;
  syncId: number;
  table: string;
  op: 'insert' | 'update' | 'delete';
  key: Record<string, unknown>;
  after: Record<string, unknown> | null;
}

/** An event the sink refused (the others of the batch were written). */
export interface EventFailure {
  eventId: number;
  error: string;
}

/**
 * A store fed from the mirror. Sinks are state-based: an event says which of the sink's
 * entities changed; the sink reads their current state from the mirror view (every table at
 * one instant, so denormalised fields agree) and writes it stamped with the view's version. Every
 * write is guarded: a store keeps the version it holds per entity (deleted ones too) and ignores
 * a write older than it. Writing the same batch twice therefore equals writing it once, and a
 * replay from any cursor converges to the mirror.
 */
export interface Sink {
  readonly name: SinkName;
  /** The mirrored tables whose events concern this sink (others are skipped). */
  readonly tables: readonly string[];
  /** Creates indexes, constraints or templates; idempotent; run before the first write. */
  prepare(): Promise<void>;
  /**
   * Writes the state of what `events` touched, read from `mirror`. Resolves with the events the
   * store refused; rejects when the store cannot be reached (nothing is then known to be written).
   */
  apply(events: OutboxEvent[], mirror: MirrorView): Promise<EventFailure[]>;
  /** Empties the sink's data, then writes every entity of `mirror`, page by page; returns how many. */
  bootstrap(mirror: MirrorView, onProgress?: (written: number) => void): Promise<number>;
  /** True when the store has lost what it was given (e.g. restarted empty): the relay bootstraps it again. */
  lostState?(): Promise<boolean>;
  /**
   * Deletes the tombstones of deletions written below `version`. A tombstone only has to outlive a
   * batch that read the mirror before the deletion and lands after it, which takes seconds; the
   * relays call this with the version of the last cycle that finished an hour ago.
   */
  pruneTombstones?(version: number): Promise<number>;
  /** Resolves when the store answers. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The ids (column `id`) touched in `table`, as numbers. */
export function idsOf(events: OutboxEvent[], table: string, column = 'id'): number[] {
  const ids = new Set<number>();
  for (const e of events) if (e.table === table && e.key[column] !== undefined) ids.add(Number(e.key[column]));
  return [...ids];
}

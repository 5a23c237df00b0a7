/**
 * Where the sinks put things and the portal's reports read them: the one definition of the Redis
 * key names and the Elasticsearch index names, shared by the CDC daemon (which writes) and the
 * portal (which reads). The shapes of the values are documented beside each sink's model.
 */

/** Redis keys under an optional prefix (CDC_REDIS_PREFIX). */
export const redisKeys = (prefix: string) => ({
  student: (id: number | string) => `${prefix}student:${id}`,
  nameIndex: `${prefix}idx:students:name`,
  groupIndex: (groupId: number | string) => `${prefix}idx:students:group:${groupId}`,
  course: (id: number | string) => `${prefix}course:${id}`,
  seatsLeft: `${prefix}courses:seats_left`,
  enrollmentCourse: `${prefix}cdc:enrollment_course`,
  version: (entity: 'student' | 'course' | 'enrollment') => `${prefix}cdc:version:${entity}`,
  meta: `${prefix}cdc:meta`,
});

export const ES_INDEX_NAMES = ['lecture_materials', 'courses'] as const;
export type EsIndexName = (typeof ES_INDEX_NAMES)[number];

/** An Elasticsearch index name under an optional prefix (CDC_ES_INDEX_PREFIX). */
export const esIndex = (prefix: string, name: EsIndexName) => `${prefix}${name}`;

/**
 * Where each sink records its bootstrap, and the readers look before trusting a store: a sink
 * writes `state: 'bootstrapping'` before it empties the store and `state: 'ready'` (with the
 * version it was filled at) when it is whole again. A store without the record lost its data
 * (or was never filled); one that says 'bootstrapping' is half built. Either way the reports use
 * the mirror, and the relay bootstraps a store without the record.
 *   Redis: hash `cdc:meta`; MongoDB: collection `cdc_meta`, document `sink`; Neo4j: node
 *   `(:CdcMeta {id: 'sink'})`; Elasticsearch: index `<prefix>cdc_meta`, document `sink`.
 */
export const SINK_META = {
  mongoCollection: 'cdc_meta',
  id: 'sink',
  neo4jLabel: 'CdcMeta',
  esIndex: (prefix: string) => `${prefix}cdc_meta`,
} as const;
export type SinkMetaState = 'bootstrapping' | 'ready';

/** Why a store's meta record makes it unfit to answer a report, or null when it is ready. */
export function unreadyReason(
  meta: { state?: unknown; bootstrap_version?: unknown } | null | undefined,
): string | null {
  if (!meta) return 'it holds no bootstrapped data (new, or it lost its data)';
  // Records written before the state field existed were only written once the bootstrap ended.
  if (meta.state === 'ready' || (meta.state === undefined && meta.bootstrap_version !== undefined)) return null;
  return 'it is being rebuilt from the mirror (bootstrap in progress)';
}

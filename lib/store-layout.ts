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

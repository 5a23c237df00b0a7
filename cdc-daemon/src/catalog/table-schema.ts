/** A MySQL column as information_schema describes it (the daemon's boundary type). */
export interface MysqlColumn {
  name: string;
  /** information_schema DATA_TYPE, lower case: int, varchar, json, ... */
  dataType: string;
  /** information_schema COLUMN_TYPE, lower case: int(10) unsigned, enum('a','b'), ... */
  columnType: string;
  nullable: boolean;
  /** MariaDB's JSON is LONGTEXT with a json_valid() check; true when that check exists. */
  jsonCheck: boolean;
  charMaxLength: number | null;
  numericPrecision: number | null;
  numericScale: number | null;
  datetimePrecision: number | null;
  /** information_schema CHARACTER_SET_NAME of text columns (utf8mb4, latin1, ...); unknown when absent. */
  charset?: string | null;
}

export const KEY_KINDS = ['primary', 'unique', 'none'] as const;
export type KeyKind = (typeof KEY_KINDS)[number];

/** What the daemon knows of one MySQL table. */
export interface TableSchema {
  name: string;
  columns: MysqlColumn[];
  /** Row identity: the primary key, else a unique key of NOT NULL columns, else none. */
  keyKind: KeyKind;
  keyColumns: string[];
  /** The index holding the row identity (`PRIMARY` or the unique key's name); absent when keyless. */
  keyIndex?: string;
  /** Other unique keys (mirrored as DEFERRABLE INITIALLY DEFERRED constraints). */
  uniqueKeys: { name: string; columns: string[] }[];
  /** Columns that reference another table (indexed in the mirror). */
  foreignKeys: { name: string; columns: string[]; refTable: string; refColumns: string[] }[];
}

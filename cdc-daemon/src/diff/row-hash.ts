import xxhashInit from 'xxhash-wasm';

type Hasher = Awaited<ReturnType<typeof xxhashInit>>;
let hasher: Hasher | undefined;

/** Loads the xxhash WebAssembly module once; call before hashing. */
export async function initRowHash(): Promise<void> {
  hasher ??= await xxhashInit();
}

/** xxhash64 of a row's canonical encoding (its COPY text), as 16 hex digits. */
export function rowHash(line: string): string {
  if (!hasher) throw new Error('initRowHash() was not awaited');
  return hasher.h64ToString(line);
}

/**
 * The same hash as a bigint, for the diff's hot path: its two 32-bit halves compare with a stored
 * record without formatting 16 hex digits and parsing them back (half the per-row cost).
 */
export function rowHash64(line: string): bigint {
  if (!hasher) throw new Error('initRowHash() was not awaited');
  return hasher.h64(line);
}

/** A rowHash64 value as rowHash gives it: 16 hex digits. */
export function hex64(h: bigint): string {
  return h.toString(16).padStart(16, '0');
}

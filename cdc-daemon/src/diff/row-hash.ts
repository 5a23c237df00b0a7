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

/**
 * 64-bit hashes travel as 16 hex digits (MySQL's LEFT(SHA1(..), 16), xxhash's h64ToString):
 * no BigInt per row. Chunk fingerprints are MySQL's BIT_XOR of the same values as unsigned
 * decimals; Xor64 rebuilds that from the hex halves.
 */
export class Xor64 {
  private hi = 0;
  private lo = 0;
  add(hex: string): void {
    this.addHalves(parseInt(hex.slice(0, 8), 16), parseInt(hex.slice(8, 16), 16));
  }
  /** The same, for a hash already parsed into its two uint32 halves. */
  addHalves(hi: number, lo: number): void {
    this.hi = (this.hi ^ hi) >>> 0;
    this.lo = (this.lo ^ lo) >>> 0;
  }
  /** Folds in another chunk's fingerprint (unsigned decimal). */
  addDecimal(decimal: string): void {
    this.add(BigInt(decimal).toString(16).padStart(16, '0'));
  }
  toDecimal(): string {
    return ((BigInt(this.hi) << 32n) | BigInt(this.lo)).toString();
  }
}

/** A hex hash as PostgreSQL bigint text (signed), for the keyless mirrors' hidden column. */
export function hexToSignedDecimal(hex: string): string {
  return BigInt.asIntN(64, BigInt(`0x${hex}`)).toString();
}

export function hexToUnsigned(hex: string): bigint {
  return BigInt(`0x${hex}`);
}

/** A chunk fingerprint that never matches MySQL's: the next cycle reads the chunk (a quarantined row). */
export const UNVERIFIED_FINGERPRINT = '-1';

import { createHash } from 'node:crypto';

/** Canonical forms are hashed this many characters at a time (one call per row costs more). */
const DIGEST_BATCH = 64 * 1024;

/**
 * A keyed chunk's fingerprint, as MySQL's chunkFingerprintExpr computes it (mysql-sql.ts): the
 * first 64 bits of the SHA-1 of the rows' canonical forms (latin1 text: one char per byte) in
 * key order, as an unsigned decimal; '0' for no rows.
 */
export class CanonDigest {
  private sha = createHash('sha1');
  private pending = '';
  private value: string | undefined;
  count = 0;
  /** Bytes of canonical forms so far: what MySQL's GROUP_CONCAT of the chunk would hold. */
  bytes = 0;
  add(canon: string): void {
    this.pending += canon;
    this.count++;
    this.bytes += canon.length;
    if (this.pending.length >= DIGEST_BATCH) this.flush();
  }
  /** Ends the digest: it takes no more rows. */
  toDecimal(): string {
    if (this.count === 0) return '0';
    if (this.value === undefined) {
      this.flush();
      this.value = BigInt(`0x${this.sha.digest('hex').slice(0, 16)}`).toString();
    }
    return this.value;
  }
  private flush(): void {
    this.sha.update(this.pending, 'latin1');
    this.pending = '';
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

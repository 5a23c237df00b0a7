import { ChunkRowsBuilder, decodeChunkRows } from '../apply/chunk-rows';
import { type DiffChunkInput, type SubChunk, rawBytes, stageLine } from './diff-result';
import type { RawValue } from './encode-row';
import { UNVERIFIED_FINGERPRINT, hexToSignedDecimal, hexToUnsigned } from './hash64';
import { rowHash } from './row-hash';
import { refusal, tryEncode } from './try-encode';

/**
 * Keyless tables: rows arrive ordered by their MySQL hash, so identical rows come together;
 * each run is compared with the number of copies stored under that hash.
 */
export async function* diffKeylessTable(input: DiffChunkInput): AsyncGenerator<string[]> {
  const { plan, result } = input;
  const state = decodeChunkRows(input.state);
  const sub: SubChunk = { id: input.chunkId, lower: null, count: 0, fingerprint: '0' };
  let sum = 0n;
  const rows = new ChunkRowsBuilder();
  result.chunks.push(sub);
  let run: { mh: string; first: RawValue[]; n: number } | undefined;
  let poisoned = false;
  function* flush(): Generator<string> {
    if (!run) return;
    const stored = state.get(run.mh);
    state.delete(run.mh);
    let hash = stored?.hash;
    let line: string | undefined;
    if (hash === undefined || run.n > (stored?.copies ?? 0)) {
      const enc = tryEncode(plan, run.first, []);
      if ('refused' in enc) {
        // Keyless: the row is named by its MySQL row hash.
        result.quarantined.push(refusal(`row hash ${run.mh}`, enc.refused));
        if (stored !== undefined) rows.add(run.mh, stored);
        poisoned = true;
        return;
      }
      result.warnings += enc.warnings;
      line = enc.line;
      hash = rowHash(enc.line);
    }
    const had = stored?.copies ?? 0;
    rows.add(run.mh, { mh: run.mh, hash, copies: run.n });
    if (run.n > had) {
      result.inserts += run.n - had;
      yield stageLine(plan, 'insert', run.mh, sub.id, hexToSignedDecimal(hash), run.n - had, line!);
    } else if (run.n < had) {
      result.deletes += had - run.n;
      yield stageLine(plan, 'delete', run.mh, sub.id, hexToSignedDecimal(hash), had - run.n, null);
    }
  }
  for await (const batch of input.rows) {
    const out: string[] = [];
    for (const raw of batch) {
      const mh = raw[0] as string;
      sub.count++;
      sum += hexToUnsigned(mh);
      result.rowsFetched++;
      result.bytesRead += rawBytes(raw);
      if (run && run.mh === mh) {
        run.n++;
        continue;
      }
      out.push(...flush());
      run = { mh, first: raw, n: 1 };
    }
    yield out;
  }
  const out = [...flush()];
  sub.observed = sum.toString();
  sub.fingerprint = poisoned ? UNVERIFIED_FINGERPRINT : sub.observed;
  result.states.push({ id: sub.id, rows: rows.take() });
  for (const [key, stored] of state) {
    result.deletes += stored.copies;
    out.push(stageLine(plan, 'delete', key, sub.id, hexToSignedDecimal(stored.hash), stored.copies, null));
  }
  state.clear();
  yield out;
}

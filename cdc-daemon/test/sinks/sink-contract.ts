import type { Sink } from '../../src/sinks/sink';
import { withMirrorView } from '../../src/outbox/mirror-view';
import { readEvents } from '../../src/outbox/outbox-store';
import { type SinkFixture, type StoreProbe, createSinkFixture, randomWrites } from './sink-fixture';

/**
 * The one contract every sink meets, run against the real store: bootstrap then follow equals
 * the mirror; the same batch twice equals once; an older version after a newer one changes
 * nothing; deletes delete. `make` returns the sink and a probe of its store.
 */
export function sinkContract(name: string, make: () => Promise<{ sink: Sink; probe: StoreProbe }>): void {
  describe(`${name} sink contract`, () => {
    let f: SinkFixture;
    let probe: StoreProbe;
    beforeAll(async () => {
      const made = await make();
      probe = made.probe;
      f = await createSinkFixture(made.sink);
      // Bootstrapped here, so each test starts from a following sink (they pass in any order).
      await f.drain();
    }, 240_000);
    afterAll(() => f?.close());

    const matchesMirror = async () =>
      expect(await probe.snapshot()).toEqual(await probe.expected(f.pool, f.config.targetSchema));

    /** Deletes from each table the sinks keep: two students with all that hangs on them, two materials. */
    const deleteSome = async () => {
      await f.my.query('DELETE FROM lecture_materials ORDER BY id LIMIT 2');
      for (const t of ['attendance', 'enrollments', 'accounts'])
        await f.my.query(
          `DELETE FROM ${t} WHERE student_id IN (SELECT id FROM (SELECT id FROM students ORDER BY id LIMIT 2) s)`,
        );
      await f.my.query('DELETE FROM students ORDER BY id LIMIT 2');
    };

    test('bootstrap from the mirror, then follow the outbox through random writes', async () => {
      await f.drain();
      expect(
        (await f.pool.query('SELECT status FROM cdc.sink_offsets WHERE sink = $1', [f.relay.sink.name])).rows[0].status,
      ).toBe('following');
      await matchesMirror();
      for (let round = 1; round <= 4; round++) {
        await randomWrites(f.my, round, 25);
        await f.cycle();
        await f.drain();
        await matchesMirror();
      }
    });

    test('the same batch delivered twice equals once', async () => {
      const { rows } = await f.pool.query('SELECT outbox_id FROM cdc.sink_offsets WHERE sink = $1', [
        f.relay.sink.name,
      ]);
      await randomWrites(f.my, 50, 25);
      await f.cycle();
      await f.drain();
      const once = await probe.snapshot();
      // Rewind the cursor: the relay delivers the same events again.
      await f.pool.query('UPDATE cdc.sink_offsets SET outbox_id = $2 WHERE sink = $1', [
        f.relay.sink.name,
        rows[0].outbox_id,
      ]);
      await f.drain();
      expect(await probe.snapshot()).toEqual(once);
      await matchesMirror();
    });

    test('an older version after a newer one changes nothing, deletes included', async () => {
      const { rows } = await f.pool.query('SELECT outbox_id FROM cdc.sink_offsets WHERE sink = $1', [
        f.relay.sink.name,
      ]);
      await deleteSome();
      await randomWrites(f.my, 77, 20);
      await f.cycle();
      await f.drain();
      await matchesMirror();
      const newer = await probe.snapshot();
      // The same events again, stamped with a version older than the one the store now holds
      // for everything they touch (the deleted rows too): all stale, nothing changes.
      await withMirrorView(f.pool, f.config.targetSchema, async (m) => {
        const events = (await readEvents(m, Number(rows[0].outbox_id), 100_000)).filter((e) =>
          f.relay.sink.tables.includes(e.table),
        );
        expect(events.some((e) => e.op === 'delete')).toBe(true);
        const failures = await f.relay.sink.apply(events, { ...m, version: m.version - 1 });
        expect(failures).toEqual([]);
      });
      expect(await probe.snapshot()).toEqual(newer);
    });

    test('tombstones older than a version are pruned, and the store still equals the mirror', async () => {
      if (!f.relay.sink.pruneTombstones || !probe.tombstones) return;
      await deleteSome();
      await f.cycle();
      await f.drain();
      expect(await probe.tombstones()).toBeGreaterThan(0);
      const { rows } = await f.pool.query('SELECT max(id)::bigint AS v FROM cdc.sync_history');
      await f.relay.sink.pruneTombstones(Number(rows[0].v) + 1);
      expect(await probe.tombstones()).toBe(0);
      await matchesMirror();
    });
  });
}

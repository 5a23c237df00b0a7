import { existsSync } from 'node:fs';
import { type LiveStore, type StoreKind, harnessStore } from '../../../test/support/stores/live-stores';
import { attachSocket, groupMembers } from '../../../test/support/stores/store-cache';
import { LIVE_SINKS, type LiveSink } from './live-sinks';
import { type SinkFixture, createSinkFixture, randomWrites } from './sink-fixture';

/**
 * Each live store crashed in the middle of a batch and started again, and wiped while its relay
 * runs: the cursor never passes events the store did not take, and the store converges to the
 * mirror (by delivery after a crash, by a new bootstrap after a wipe). Harness servers only:
 * the test must be able to kill them.
 */
jest.setTimeout(240_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const kind of ['mongo', 'neo4j', 'elasticsearch'] as const satisfies StoreKind[]) {
  describe(`${kind} on a live server, under faults`, () => {
    let store: LiveStore;
    let live: LiveSink;
    let f: SinkFixture;
    beforeAll(async () => {
      store = await harnessStore(kind);
      live = await LIVE_SINKS[kind](store);
      f = await createSinkFixture(live.sink, 60);
      await f.drain();
    });
    afterAll(async () => {
      await f?.close();
      await live?.close().catch(() => {});
      await store?.close();
    });

    const cursor = async () =>
      Number(
        (await f.pool.query('SELECT outbox_id FROM cdc.sink_offsets WHERE sink = $1', [f.relay.sink.name])).rows[0]
          .outbox_id,
      );
    const bootstraps = async () =>
      (await f.pool.query('SELECT bootstrapped_at FROM cdc.sink_offsets WHERE sink = $1', [f.relay.sink.name])).rows[0]
        .bootstrapped_at as Date | null;
    /** Drains, retrying while the drivers find the restarted server again. */
    const drain = async () => {
      for (let i = 0; ; i++) {
        try {
          return await f.drain();
        } catch (err) {
          if (i >= 20) throw err;
          await sleep(500);
        }
      }
    };
    const matchesMirror = async () =>
      expect(await live.probe.snapshot()).toEqual(await live.probe.expected(f.pool, f.config.targetSchema));

    test('crashed in the middle of a batch and started again: the cursor waits, then it converges', async () => {
      await randomWrites(f.my, 901, 40);
      await f.cycle();
      const before = await cursor();
      const step = f.relay.step().then(
        () => 'written',
        () => 'failed',
      );
      // A killed JVM leaves its attach socket in /tmp; Elasticsearch's always has one (it attaches
      // an agent to itself): the harness removes those of the killed group.
      const members = groupMembers(store.server!.handle!().pgid!);
      const attachSockets = () => members.filter((pid) => existsSync(attachSocket(pid)));
      if (kind === 'elasticsearch') expect(attachSockets()).not.toEqual([]);
      await store.server!.stop('kill');
      expect(attachSockets()).toEqual([]);
      const outcome = await step;
      const afterCrash = await cursor();
      // A batch the store never acknowledged does not move the cursor.
      if (outcome === 'failed') expect(afterCrash).toBe(before);
      await expect(f.relay.step()).rejects.toThrow();
      expect(await cursor()).toBe(afterCrash);
      await store.server!.start();
      await drain();
      expect(await cursor()).toBeGreaterThan(before);
      await matchesMirror();
    });

    test('wiped while its relay runs: the relay notices and bootstraps it again', async () => {
      const lastBootstrap = await bootstraps();
      await live.wipe();
      await randomWrites(f.my, 902, 10);
      await f.cycle();
      await drain();
      expect(await bootstraps()).not.toEqual(lastBootstrap);
      await matchesMirror();
    });
  });
}

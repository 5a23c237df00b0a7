import type { Pool } from 'pg';
import { loadCdcConfig } from '../src/config';
import { WatchLoop } from '../src/watch/watch-loop';
import { quietLogger } from './cdc-fixture';

test('a watch loop stopped while a step is in flight runs no further steps', async () => {
  // Every step asks PostgreSQL first; this one answers (with an error) only after 40 ms.
  let steps = 0;
  const pool = {
    query: () => {
      steps++;
      return new Promise((_resolve, reject) => setTimeout(() => reject(new Error('unreachable')), 40));
    },
  } as unknown as Pool;
  const config = loadCdcConfig({
    CDC_MYSQL_URL: 'mysql://reader@127.0.0.1/campus',
    POSTGRES_URL: 'postgres://cdc@127.0.0.1/campus',
    CDC_WATCH_INTERVAL_MS: '50',
  });
  const loop = new WatchLoop({ pool, config, logger: quietLogger });
  loop.start();
  // Stop in the middle of a step: the first starts at 50 ms and waits until 90 ms.
  await new Promise((r) => setTimeout(r, 70));
  await loop.stop();
  const atStop = steps;
  expect(atStop).toBeGreaterThanOrEqual(1);
  await new Promise((r) => setTimeout(r, 400));
  expect(steps).toBe(atStop);
});

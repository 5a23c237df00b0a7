import { Writable } from 'node:stream';
import winston from 'winston';
import { createLogger } from '../lib/logger';

function capture() {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', format: 'json', service: 'test' });
  logger.clear();
  logger.add(
    new winston.transports.Stream({
      stream: new Writable({
        write(chunk, _enc, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    }),
  );
  return { logger, text: () => lines.join('') };
}

test('credentials in a URL are redacted in an error message, its stack and its cause', () => {
  const { logger, text } = capture();
  const cause = new Error('connect to postgres://cdc:hunter2-cause@db:5432/campus failed');
  const err = new Error('cannot reach mysql://cdc_reader:s3cret-pw@mysql:3306/campus', { cause });
  logger.error('cycle failed', { err, url: 'redis://:other-secret@redis:6379', password: 'plain' });
  const out = text();
  expect(out).toContain('mysql://cdc_reader:***@mysql:3306/campus');
  expect(out).toContain('"stack":"Error: cannot reach mysql://cdc_reader:***@mysql');
  expect(out).toContain('postgres://cdc:***@db:5432');
  for (const secret of ['s3cret-pw', 'hunter2-cause', 'other-secret', 'plain']) expect(out).not.toContain(secret);
});

test('keys that name a secret are redacted, and a key that only starts with "pass" is not', () => {
  const { logger, text } = capture();
  logger.debug('table skipped', {
    hint: { rolling: { passStartedAt: 1796433612270, next: 3 } },
    pass: 'p-one',
    dbPass: 'p-two',
    smtp_pass: 'p-three',
    passwd: 'p-four',
    apiToken: 'p-five',
  });
  const out = text();
  expect(out).toContain('"passStartedAt":1796433612270');
  for (const secret of ['p-one', 'p-two', 'p-three', 'p-four', 'p-five']) expect(out).not.toContain(secret);
});

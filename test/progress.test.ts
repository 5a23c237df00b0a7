import { Writable } from 'node:stream';
import { createProgressGroup } from '../lib/progress';

/** A stream that says it is a terminal, keeping what is written to it. */
function terminal(isTTY: boolean) {
  let text = '';
  const stream = Object.assign(
    new Writable({
      write(chunk, _enc, done) {
        text += String(chunk);
        done();
      },
    }),
    { isTTY, columns: 120, rows: 40, cursorTo: () => true, moveCursor: () => true, clearLine: () => true },
  ) as unknown as NodeJS.WriteStream;
  // What a terminal shows: the text with its escape sequences and carriage returns taken out.
  // eslint-disable-next-line no-control-regex
  const shown = () => text.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, '').split(/[\r\n]+/);
  return { stream, shown };
}

test('two tables loading at once each keep a line of their own on a terminal, their ends shown', () => {
  const { stream, shown } = terminal(true);
  const group = createProgressGroup(stream);
  const a = group.bar('loading attendance', 1000);
  const b = group.bar('loading enrollments', 10);
  a.increment(400);
  b.increment(10);
  a.increment(600);
  group.stop();
  const lines = shown();
  const last = (title: string) => lines.filter((l) => l.startsWith(title)).pop();
  expect(last('loading attendance')).toContain('100% 1000/1000 rows');
  expect(last('loading enrollments')).toContain('100% 10/10 rows');
  // No line holds both: they were never drawn over each other.
  expect(lines.filter((l) => l.includes('attendance') && l.includes('enrollments'))).toEqual([]);
});

test('off a terminal, each table writes its own lines every 10%', () => {
  const { stream, shown } = terminal(false);
  const group = createProgressGroup(stream);
  const a = group.bar('loading attendance', 100);
  const b = group.bar('loading terms', 2);
  a.increment(50);
  b.increment(2);
  a.increment(50);
  group.stop();
  expect(shown().filter(Boolean)).toEqual([
    'loading attendance: 50% (50 rows)',
    'loading terms: 100% (2 rows)',
    'loading attendance: 100% (100 rows)',
  ]);
});

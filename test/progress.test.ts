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

/** Two tables' bars in a group, the second loaded whole while the first is half way: what was shown. */
function loadTwo(isTTY: boolean, first: [string, number], second: [string, number]): string[] {
  const { stream, shown } = terminal(isTTY);
  const group = createProgressGroup(stream);
  const a = group.bar(...first);
  const b = group.bar(...second);
  a.increment(first[1] / 2);
  b.increment(second[1]);
  a.increment(first[1] / 2);
  group.stop();
  return shown();
}

test('two tables loading at once each keep a line of their own on a terminal, their ends shown', () => {
  const lines = loadTwo(true, ['loading attendance', 1000], ['loading enrollments', 10]);
  const last = (title: string) => lines.filter((l) => l.startsWith(title)).pop();
  expect(last('loading attendance')).toContain('100% 1000/1000 rows');
  expect(last('loading enrollments')).toContain('100% 10/10 rows');
  // No line holds both: they were never drawn over each other.
  expect(lines.filter((l) => l.includes('attendance') && l.includes('enrollments'))).toEqual([]);
});

test('off a terminal, each table writes its own lines every 10%', () => {
  expect(loadTwo(false, ['loading attendance', 100], ['loading terms', 2]).filter(Boolean)).toEqual([
    'loading attendance: 50% (50 rows)',
    'loading terms: 100% (2 rows)',
    'loading attendance: 100% (100 rows)',
  ]);
});

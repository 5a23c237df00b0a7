import type { Point } from '../src/repositories/chart-series';
import { histogramSteps, svgChart } from '../src/http/svg-chart';
import { recentCyclesChart } from '../src/http/handlers/ops-handlers';

/** The console's charts: every chart of a window shows the same times at the same places. */

const HOUR = 3_600_000;
const BUCKET = HOUR / 2;
const to = Date.UTC(2026, 11, 6, 12, 20);
const from = to - 24 * HOUR;

/** The x axis' labels of an SVG chart, left to right, and where they stand: what an operator reads off it. */
function timeLabels(svg: string): string[] {
  return [
    ...svg.matchAll(
      /<text[^>]*transform="translate\(([\d.]+) [\d.]+\)"[^>]*>(\d\d:\d\d(?::\d\d)?|[A-Z][a-z]{2} \d+)<\/text>/g,
    ),
  ]
    .map((m) => ({ x: Math.round(Number(m[1])), text: m[2]! }))
    .sort((a, b) => a.x - b.x)
    .map((l) => `${l.text} at ${l.x}`);
}

test.each([
  ['one bucket with changes', [[from + 46 * BUCKET, 49]] as Point[]],
  [
    'two buckets',
    [
      [from + 3 * BUCKET, 5],
      [from + 40 * BUCKET, 12],
    ] as Point[],
  ],
  ['every bucket', Array.from({ length: 48 }, (_, i): Point => [from + i * BUCKET, i])],
])('a histogram has the time axis of a line chart over the same window: %s', (_, points) => {
  const line = svgChart({ title: 'line', unit: 'ms', from, to, series: [{ name: 'p50', points }] });
  // The chart's title is its accessible name (the page's caption says it in words).
  expect(line.startsWith('<svg role="img" aria-label="line" ')).toBe(true);
  const histogram = svgChart({
    title: 'rows',
    unit: 'rows',
    from,
    to,
    bucketMs: BUCKET,
    series: [{ name: 'rows', points }],
  });
  expect(timeLabels(line).length).toBeGreaterThanOrEqual(5);
  expect(timeLabels(histogram)).toEqual(timeLabels(line));
});

test('histogram steps: every bucket of the window, a bucket without a point as 0, the last one to the end', () => {
  const steps = histogramSteps(
    [
      [from + BUCKET, 7],
      [from + 3 * BUCKET + 1, 2],
    ],
    from,
    from + 4 * BUCKET + BUCKET / 2,
    BUCKET,
  );
  expect(steps).toEqual([
    [from, 0],
    [from + BUCKET, 7],
    [from + 2 * BUCKET, 0],
    [from + 3 * BUCKET, 2],
    [from + 4 * BUCKET, 0],
    [from + 4 * BUCKET + BUCKET / 2, 0],
  ]);
});

test("the sync history's chart of the last cycles runs forward when this host's clock is behind the database's", () => {
  const started = (iso: string) => ({ started_at: new Date(iso), duration_ms: 800, changes: 3 });
  // The axis' times of day, as HH:MM:SS.
  const times = (svg: string) =>
    timeLabels(svg)
      .map((l) => l.split(' at ')[0]!)
      .filter((t) => /^\d\d:\d\d/.test(t))
      .map((t) => (t.length === 5 ? `${t}:00` : t));
  // One cycle stamped by PostgreSQL at 12:00:30, the portal's clock two weeks behind.
  const one = recentCyclesChart([started('2026-12-06T12:00:30Z')], new Date('2026-11-22T12:00:00Z'));
  expect(times(one).length).toBeGreaterThan(1);
  expect(times(one)).toEqual([...times(one)].sort());
  expect(times(one).every((t) => t >= '11:59:30' && t <= '12:00:30')).toBe(true);
  // Cycles over two hours, the portal's clock right: the axis ends now, at 14:00.
  const many = recentCyclesChart(
    [started('2026-12-06T12:00:00Z'), started('2026-12-06T13:00:00Z')],
    new Date('2026-12-06T14:00:00Z'),
  );
  expect(times(many)).toEqual([...times(many)].sort());
  expect(times(many).at(-1)).toBe('14:00:00');
});

import type { Point } from '../src/repositories/chart-series';
import { histogramSteps, svgChart } from '../src/http/svg-chart';

/** The console's charts: every chart of a window shows the same times at the same places. */

const HOUR = 3_600_000;
const BUCKET = HOUR / 2;
const to = Date.UTC(2026, 11, 6, 12, 20);
const from = to - 24 * HOUR;

/** The x axis' labels of an SVG chart and where they stand: what an operator reads off it. */
function timeLabels(svg: string): string[] {
  return [
    ...svg.matchAll(/<text[^>]*transform="translate\(([\d.]+) [\d.]+\)"[^>]*>(\d\d:\d\d|[A-Z][a-z]{2} \d+)<\/text>/g),
  ].map((m) => `${m[2]} at ${Math.round(Number(m[1]))}`);
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

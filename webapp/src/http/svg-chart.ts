import * as echarts from 'echarts';
import escapeHtml from 'escape-html';
import type { Point } from '../repositories/chart-series';

export interface ChartSpec {
  /** What the chart shows; the page's caption says it, the SVG's aria-label too. */
  title: string;
  /** The y axis' unit, shown as its name (ms, rows, s). */
  unit: string;
  from: number;
  to: number;
  /**
   * Set for totals per bucket (buckets of this many ms from `from`, each point at its bucket's
   * start): drawn as a histogram, a bucket without a point as 0. Unset: points joined by lines.
   */
  bucketMs?: number;
  series: { name: string; points: Point[] }[];
}

/**
 * A chart as an SVG string, rendered on the server by Apache ECharts (its SSR mode): axes with
 * ticks and units, time in UTC on the x axis, a legend; no script reaches the browser.
 */
export function svgChart(spec: ChartSpec, width = 720, height = 240): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  try {
    chart.setOption({
      animation: false,
      useUTC: true,
      // The page's figcaption carries the title; the chart keeps its legend, axes and units.
      legend: { top: 0, right: 0 },
      grid: { left: 64, right: 48, top: 36, bottom: 36 },
      xAxis: {
        type: 'time',
        min: spec.from,
        max: spec.to,
        name: 'UTC',
        nameLocation: 'end',
        axisLabel: {
          hideOverlap: true,
          formatter: {
            year: '{yyyy}',
            month: '{MMM}',
            day: '{MMM} {d}',
            hour: '{HH}:{mm}',
            minute: '{HH}:{mm}',
            second: '{HH}:{mm}:{ss}',
          },
        },
      },
      yAxis: { type: 'value', name: spec.unit, min: 0 },
      series: spec.series.map((s) =>
        spec.bucketMs === undefined
          ? { name: s.name, type: 'line', showSymbol: s.points.length < 3, connectNulls: false, data: s.points }
          : {
              name: s.name,
              type: 'line',
              step: 'end',
              areaStyle: { opacity: 0.4 },
              showSymbol: false,
              data: histogramSteps(s.points, spec.from, spec.to, spec.bucketMs),
            },
      ),
    });
    // ECharts's SSR writes no accessible name (its `aria` option works in the browser only).
    return chart.renderToSVGString().replace(/^<svg /, `<svg role="img" aria-label="${escapeHtml(spec.title)}" `);
  } finally {
    chart.dispose();
  }
}

/**
 * A histogram's steps: each bucket's total from its start to the next bucket's, the last one to
 * `to`. Drawn as a filled step line rather than ECharts' bars: on a time axis ECharts widens the
 * axis past its min and max to make room for bars (apache/echarts#13548), by up to 1.8 times the
 * window when one bucket has a bar, so the chart's times would not line up with the others'.
 */
export function histogramSteps(points: Point[], from: number, to: number, bucketMs: number): Point[] {
  const totals = new Array<number>(Math.max(1, Math.ceil((to - from) / bucketMs))).fill(0);
  for (const [at, v] of points) {
    const i = Math.floor((at - from) / bucketMs);
    if (i >= 0 && i < totals.length) totals[i]! += v ?? 0;
  }
  const steps: Point[] = totals.map((v, i) => [from + i * bucketMs, v]);
  steps.push([to, totals.at(-1)!]);
  return steps;
}

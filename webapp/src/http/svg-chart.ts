import * as echarts from 'echarts';
import type { Point } from '../repositories/chart-series';

export interface ChartSpec {
  /** What the chart shows; the page's caption says it, the SVG's aria-label too. */
  title: string;
  /** The y axis' unit, shown as its name (ms, rows, s). */
  unit: string;
  from: number;
  to: number;
  kind?: 'line' | 'bar';
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
      series: spec.series.map((s) => ({
        name: s.name,
        type: spec.kind ?? 'line',
        showSymbol: s.points.length < 3,
        connectNulls: false,
        barMaxWidth: 14,
        data: s.points,
      })),
    });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

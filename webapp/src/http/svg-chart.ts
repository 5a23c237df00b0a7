import * as echarts from 'echarts';
import type { Point } from '../repositories/chart-series';

export interface ChartSpec {
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
      title: { text: spec.title, left: 0, textStyle: { fontSize: 14 } },
      legend: { top: 0, right: 0 },
      grid: { left: 64, right: 24, top: 40, bottom: 44 },
      xAxis: { type: 'time', min: spec.from, max: spec.to, name: 'UTC', nameLocation: 'end' },
      yAxis: { type: 'value', name: spec.unit, min: 0 },
      series: spec.series.map((s) => ({
        name: s.name,
        type: spec.kind ?? 'line',
        showSymbol: s.points.length < 3,
        connectNulls: false,
        data: s.points,
      })),
    });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

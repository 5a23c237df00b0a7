import { writeFile } from 'node:fs/promises';
import { chromium } from 'playwright-core';

export interface ScalingPoint {
  rows: number;
  loadS: number;
  fullSweepS: number;
  churnS: number;
  peakRssMb: number;
}

/** A Vega-Lite spec: seconds per figure against table size (log-log), and peak RSS beside it. */
export function scalingSpec(points: ScalingPoint[]): Record<string, unknown> {
  const long = points.flatMap((p) => [
    { rows: p.rows, figure: 'initial load', seconds: p.loadS },
    { rows: p.rows, figure: 'cycle, no changes (full sweep)', seconds: p.fullSweepS },
    { rows: p.rows, figure: 'cycle after 1% churn', seconds: p.churnS },
  ]);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'campus-sync CDC: time and memory against table size',
    hconcat: [
      {
        width: 380,
        height: 260,
        data: { values: long },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'rows', type: 'quantitative', scale: { type: 'log' }, title: 'rows in the table' },
          y: { field: 'seconds', type: 'quantitative', scale: { type: 'log' }, title: 'seconds' },
          color: {
            field: 'figure',
            type: 'nominal',
            title: null,
            legend: { orient: 'bottom', columns: 1, labelLimit: 400 },
          },
        },
      },
      {
        width: 260,
        height: 260,
        data: { values: points.map((p) => ({ rows: p.rows, mb: p.peakRssMb })) },
        layer: [
          {
            mark: { type: 'bar', width: 28 },
            encoding: {
              x: { field: 'rows', type: 'ordinal', title: 'rows in the table' },
              y: { field: 'mb', type: 'quantitative', title: 'daemon peak RSS (MB)' },
            },
          },
          { mark: { type: 'rule', color: 'red', strokeDash: [4, 4] }, encoding: { y: { datum: 256 } } },
        ],
      },
    ],
  };
}

/** Renders a Vega-Lite spec to SVG with Vega in Node, then to PNG with headless Chromium. */
export async function renderPng(spec: Record<string, unknown>, file: string): Promise<void> {
  const vega = await import('vega');
  // vega-lite's types need the "bundler"/"node16" resolution; the one call used is typed here.
  const vl = (await import('vega-lite' as string)) as {
    compile: (spec: unknown) => { spec: Parameters<typeof vega.parse>[0] };
  };
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  await writeFile(file.replace(/\.png$/, '.svg'), svg);
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage({ deviceScaleFactor: 2 });
    await page.setContent(`<html><body style="margin:0;background:#fff">${svg}</body></html>`);
    await page.locator('svg').first().screenshot({ path: file });
  } finally {
    await browser.close();
  }
}

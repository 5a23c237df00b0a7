import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** One benchmark figure; `baseline` and `goal` make the ratio column. */
export interface BenchRow {
  section: string;
  figure: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number };
  /** Human text of the goal, e.g. "<= 1.5x". */
  goal?: string;
  /** Whether the ratio meets the goal (undefined when there is no goal). */
  met?: boolean;
}

export const RESULTS_DIR = path.resolve(__dirname, '../bench-results');

function fmt(n: number): string {
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2);
}

export function toMarkdown(rows: BenchRow[]): string {
  const lines = ['| section | figure | value | baseline | ratio | goal |', '|---|---|---|---|---|---|'];
  for (const r of rows) {
    const ratio = r.baseline && r.baseline.value !== 0 ? `${fmt(r.value / r.baseline.value)}x` : '';
    const base = r.baseline ? `${r.baseline.name}: ${fmt(r.baseline.value)} ${r.unit}` : '';
    const goal = r.goal ? `${r.goal} ${r.met === undefined ? '' : r.met ? '(met)' : '(NOT met)'}` : '';
    lines.push(`| ${r.section} | ${r.figure} | ${fmt(r.value)} ${r.unit} | ${base} | ${ratio} | ${goal} |`);
  }
  return lines.join('\n');
}

/** Prints the table and writes it as markdown and JSON under the git-ignored bench-results/. */
export function writeReport(name: string, rows: BenchRow[], context: Record<string, unknown>): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const md = `# campus-sync bench: ${name}\n\n${new Date().toISOString()}\n\n${toMarkdown(rows)}\n`;
  writeFileSync(path.join(RESULTS_DIR, `${name}.md`), md);
  writeFileSync(
    path.join(RESULTS_DIR, `${name}.json`),
    JSON.stringify({ at: new Date().toISOString(), context, rows }, null, 2),
  );
  return md;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

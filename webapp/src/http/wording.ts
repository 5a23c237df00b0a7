const GROUPED = new Intl.NumberFormat('en-US', { maximumFractionDigits: 20 });

/** "3,867": a number with its thousands grouped (the views' `num`); what is not a number, as it is ('' for none). */
export function num(n: number | string | null | undefined): string {
  if (n === null || n === undefined || n === '') return '';
  const v = Number(n);
  return Number.isFinite(v) ? GROUPED.format(v) : String(n);
}

/** "1 cycle", "3,867 cycles": a count with its noun (the views' `count`, and messages built in handlers). */
export function count(n: number | string, noun: string): string {
  return `${num(n)} ${noun}${Number(n) === 1 ? '' : 's'}`;
}

/** A size in the unit that shows it: "512 B", "12.4 KiB", "3.0 MiB" (not "0.0 MiB" for a small history). */
export function bytes(n: number | string): string {
  const b = Number(n);
  return b < 1024 ? `${b} B` : b < 1048576 ? `${(b / 1024).toFixed(1)} KiB` : `${(b / 1048576).toFixed(1)} MiB`;
}

/** "1 cycle", "25 cycles": a count with its noun (the views' `count`, and messages built in handlers). */
export function count(n: number | string, noun: string): string {
  return `${n} ${noun}${Number(n) === 1 ? '' : 's'}`;
}

/** A size in the unit that shows it: "512 B", "12.4 KiB", "3.0 MiB" (not "0.0 MiB" for a small history). */
export function bytes(n: number | string): string {
  const b = Number(n);
  return b < 1024 ? `${b} B` : b < 1048576 ? `${(b / 1024).toFixed(1)} KiB` : `${(b / 1048576).toFixed(1)} MiB`;
}

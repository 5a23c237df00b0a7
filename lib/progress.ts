import cliProgress from 'cli-progress';

export interface Progress {
  increment(n: number, label?: string): void;
  stop(): void;
}

/** How a bar looks on a terminal, single or one of a group. */
function barOptions(title: string, stream: NodeJS.WriteStream, unit: string): cliProgress.Options {
  return {
    format: `${title} |{bar}| {percentage}% {value}/{total} ${unit} {label} | ETA {eta_formatted}`,
    stream,
    hideCursor: true,
    etaBuffer: 50,
  };
}

/**
 * A progress bar on an interactive terminal; on anything else (CI, pipes, docker logs) a line
 * every 10% so logs stay readable.
 */
export function createProgress(
  title: string,
  total: number,
  stream: NodeJS.WriteStream = process.stderr,
  unit = 'rows',
): Progress {
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(barOptions(title, stream, unit), cliProgress.Presets.shades_classic);
    bar.start(total, 0, { label: '' });
    return { increment: (n, label) => bar.increment(n, { label: label ?? '' }), stop: () => bar.stop() };
  }
  let done = 0;
  let nextMark = 0.1;
  return {
    increment(n, label) {
      done += n;
      if (total > 0 && done / total >= nextMark) {
        stream.write(
          `${title}: ${Math.min(100, Math.round((done / total) * 100))}% (${done} ${unit}${label ? `, ${label}` : ''})\n`,
        );
        while (done / total >= nextMark) nextMark += 0.1;
      }
    },
    stop() {},
  };
}

/** Bars for several tasks under way at once (a cycle's table loads): one line each on a terminal. */
export interface ProgressGroup {
  bar(title: string, total: number): Progress;
  stop(): void;
}

/**
 * On an interactive terminal, one cli-progress MultiBar: single bars started side by side all
 * redraw the same line (a first load of several tables overlaps them). Elsewhere, createProgress's
 * lines, each prefixed with its title.
 */
export function createProgressGroup(stream: NodeJS.WriteStream = process.stderr, unit = 'rows'): ProgressGroup {
  if (!stream.isTTY) return { bar: (title, total) => createProgress(title, total, stream, unit), stop() {} };
  // The title is each bar's own payload value.
  const bars = new cliProgress.MultiBar(barOptions('{title}', stream, unit), cliProgress.Presets.shades_classic);
  return {
    bar(title, total) {
      const bar = bars.create(total, 0, { title, label: '' });
      return { increment: (n, label) => bar.increment(n, { title, label: label ?? '' }), stop: () => bar.stop() };
    },
    stop: () => bars.stop(),
  };
}

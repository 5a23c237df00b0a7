import fs from 'node:fs';
import path from 'node:path';

/**
 * The repository (or image) root: the nearest folder above this file holding package.json. The
 * same for `tsx lib/...` in development and `node dist/lib/...` in production, so files that are
 * not compiled (SQL migrations, EJS views, static assets) are found from either.
 */
export const PROJECT_ROOT = findRoot(__dirname);

function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/** True when this process runs compiled JavaScript from dist/ rather than TypeScript through tsx. */
export const RUNS_COMPILED = path.extname(__filename) === '.js';

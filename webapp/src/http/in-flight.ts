import type { NextFunction, Request, Response } from 'express';

/**
 * The requests this process is still working on, so that a graceful stop closes the database
 * pools only after them. A request counts from its arrival until its response is ended, which
 * every handler does, error pages included, even for a client that has already left (the socket
 * is gone, the work is not). Installed before the session middleware, it is left after the
 * session's save, which express-session runs as the response ends.
 */
export class InFlight {
  private count = 0;
  private waiting: (() => void)[] = [];

  readonly middleware = (_req: Request, res: Response, next: NextFunction): void => {
    this.count++;
    const end = res.end;
    let left = false;
    res.end = ((...args: Parameters<Response['end']>) => {
      if (!left) {
        left = true;
        this.leave();
      }
      return end.apply(res, args);
    }) as Response['end'];
    next();
  };

  /**
   * Resolves true once no request is in flight (at once when none is), or false after
   * `timeoutMs`: a response abandoned half-streamed (a download whose client left) is never
   * ended, and must not hold the stop.
   */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.waiting.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Requests in flight now. */
  get size(): number {
    return this.count;
  }

  private leave(): void {
    this.count--;
    if (this.count > 0) return;
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}

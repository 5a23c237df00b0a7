import type { NextFunction, Request, Response } from 'express';
import { AppError } from '../../../lib/app-error';
import type { Logger } from '../../../lib/logger';
import { storeUnavailable } from '../errors';

/** 404 for every route nobody answered. */
export function notFound(req: Request, res: Response): void {
  if (req.path.startsWith('/api/')) {
    res.status(404).json({ error: { code: 'NOT_FOUND', message: 'No such endpoint.' } });
    return;
  }
  res
    .status(404)
    .render('error', { title: 'Page not found', status: 404, message: 'There is no page at this address.' });
}

/**
 * Renders every error the same way: AppErrors with their status and message, a database that
 * cannot be reached or is not filled yet as a 503 that says so (see storeUnavailable), body-parser
 * and CSRF errors with theirs, anything else as a 500. The detail of a 5xx goes to the log only.
 */
export function errorHandler(logger: Logger) {
  // Express recognises error middleware by its four parameters.
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    let status = 500;
    let code = 'INTERNAL';
    let message = 'Something went wrong on our side. Please try again; if it keeps happening, tell the helpdesk.';
    const known = err instanceof AppError ? err : storeUnavailable(err);
    if (known) {
      ({ status, code, message } = known);
    } else if (isHttpError(err)) {
      status = err.status;
      code = err.code === 'EBADCSRFTOKEN' ? 'CSRF_INVALID' : (err.type ?? 'BAD_REQUEST');
      message =
        code === 'CSRF_INVALID'
          ? 'Your form expired or did not come from this site. Go back, reload the page and try again.'
          : status === 413
            ? 'The request is too large.'
            : 'The request could not be read.';
    }
    if (status >= 500) logger.error('request failed', { err, method: req.method, path: req.path });
    else logger.debug('request refused', { code, status, path: req.path });
    if (res.headersSent) return;
    if (req.path.startsWith('/api/')) {
      res.status(status).json({ error: { code, message } });
      return;
    }
    // The error may come before the middleware that fills these (a body too large, say).
    res.locals.user ??= req.session?.user;
    res.locals.path ??= req.path;
    res.locals.csrfToken ??= () => '';
    res
      .status(status)
      .render(
        'error',
        { title: status === 403 ? 'Not allowed' : 'Error', status, message },
        (renderErr: Error | null, html?: string) => {
          if (renderErr) logger.error('error page failed to render', { err: renderErr });
          // Never fall through to Express's default page: it prints stack traces outside production.
          if (renderErr) res.type('text/plain').send(message);
          else res.send(html);
        },
      );
  };
}

function isHttpError(err: unknown): err is { status: number; code?: string; type?: string } {
  const status = (err as { status?: unknown })?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}

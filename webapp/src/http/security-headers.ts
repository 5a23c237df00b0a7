import type { NextFunction, Request, Response } from 'express';
import helmet from 'helmet';
import { portalError } from '../errors';
import { CONTROL, CONTROL_ALL } from '../../../lib/control-characters';

/**
 * helmet's headers; HSTS and CSP's upgrade-insecure-requests only on a request that came over
 * HTTPS (directly or, with TRUST_PROXY, through a proxy that says so): sent over plain HTTP they
 * would pin a plain-HTTP deployment's hostname to an HTTPS it does not serve.
 */
export function securityHeaders() {
  const overHttps = helmet();
  const overHttp = helmet({
    strictTransportSecurity: false,
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
  });
  return (req: Request, res: Response, next: NextFunction) => (req.secure ? overHttps : overHttp)(req, res, next);
}

/** Every page and export may carry personal data: none is kept by browsers or shared caches. */
export function noStore(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Cache-Control', 'no-store');
  next();
}

/** A query parameter carrying a control character (a NUL byte, say) is a 400 naming it. */
export function rejectControlCharactersInQuery(req: Request, _res: Response, next: NextFunction): void {
  for (const [name, value] of Object.entries(req.query)) {
    const values = Array.isArray(value) ? value : [value];
    if (CONTROL.test(name) || values.some((v) => typeof v === 'string' && CONTROL.test(v)))
      return next(
        portalError(
          'VALIDATION_FAILED',
          `The parameter "${name.replace(CONTROL_ALL, '?').slice(0, 40)}" contains a control character.`,
        ),
      );
  }
  next();
}

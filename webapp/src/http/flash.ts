import cookieParser from 'cookie-parser';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

export interface Flash {
  kind: 'success' | 'error' | 'info';
  message: string;
}

const FLASH_COOKIE = 'campus.flash';
const KINDS = new Set<Flash['kind']>(['success', 'error', 'info']);
const COOKIE = { httpOnly: true, sameSite: 'lax', path: '/' } as const;

/**
 * Post/redirect/get: a handler sets a flash, the next page shows it once. The flash travels in a
 * short-lived signed cookie, not in the stored session: an enroll or a drop then writes nothing
 * besides the enrollment, and neither does the page that shows its outcome.
 */
export function setFlash(res: Response, kind: Flash['kind'], message: string): void {
  res.cookie(FLASH_COOKIE, JSON.stringify({ kind, message }), {
    ...COOKIE,
    signed: true,
    secure: res.req.secure,
    maxAge: 60_000,
  });
}

/**
 * Shows the flash the request carries (once: its cookie is cleared) and lets setFlash sign the
 * next one with `secret` (Express signs with `req.secret`). The flash is the portal's only signed
 * cookie, so it alone is unsigned here: cookie-parser given the secret checked the session
 * cookie's signature too on every request (an HMAC and two SHA-1s, ~2% of a page's CPU), which
 * express-session checks itself. A cookie without the `s:` of a signed one, or with a wrong
 * signature, shows nothing.
 */
export function exposeFlash(secret: string): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    req.secret = secret;
    const signed: unknown = req.cookies?.[FLASH_COOKIE];
    if (signed !== undefined) {
      const raw = typeof signed === 'string' && signed.startsWith('s:') && cookieParser.signedCookie(signed, secret);
      res.locals.flash = parseFlash(raw);
      res.clearCookie(FLASH_COOKIE, COOKIE);
    }
    next();
  };
}

function parseFlash(raw: unknown): Flash | undefined {
  if (typeof raw !== 'string') return undefined;
  try {
    const f = JSON.parse(raw) as Partial<Flash>;
    return KINDS.has(f.kind!) && typeof f.message === 'string' ? { kind: f.kind!, message: f.message } : undefined;
  } catch {
    return undefined;
  }
}

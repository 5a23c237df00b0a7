import type { NextFunction, Request, Response } from 'express';

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

export function exposeFlash(req: Request, res: Response, next: NextFunction): void {
  const raw: unknown = req.signedCookies?.[FLASH_COOKIE];
  if (raw !== undefined) {
    res.locals.flash = parseFlash(raw);
    res.clearCookie(FLASH_COOKIE, COOKIE);
  }
  next();
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

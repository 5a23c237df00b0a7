import type { NextFunction, Request, Response } from 'express';
import type { Flash } from './session';

/** Post/redirect/get: a handler sets a flash, the next page shows it once. */
export function setFlash(req: Request, kind: Flash['kind'], message: string): void {
  req.session.flash = { kind, message };
}

export function exposeFlash(req: Request, res: Response, next: NextFunction): void {
  res.locals.flash = req.session?.flash;
  if (req.session?.flash) delete req.session.flash;
  next();
}

import type { Request, Response } from 'express';
import type { Knex } from 'knex';
import { type HashingSlots, verifyLogin } from '../../use-cases/accounts';
import { setFlash } from '../flash';
import { safeNext } from '../guards';
import { SESSION_COOKIE, newSessionUser } from '../session';
import { CONTROL_ALL } from '../../../../lib/control-characters';

export function homePath(role: string | undefined): string {
  if (role === 'staff') return '/admin/courses';
  if (role === 'operator') return '/ops/sync-history';
  return '/courses';
}

export function authHandlers(db: Knex, bcryptRounds: number, hashing?: HashingSlots) {
  return {
    showLogin(req: Request, res: Response): void {
      if (req.session.user) return res.redirect(homePath(req.session.user.role));
      res.render('login', { title: 'Log in', username: '', next: safeNext(req.query.next) ?? '', error: undefined });
    },

    async login(req: Request, res: Response): Promise<void> {
      const typed = typeof req.body?.username === 'string' ? req.body.username : '';
      const password = typeof req.body?.password === 'string' ? req.body.password : '';
      const next = safeNext(req.body?.next);
      // verifyLogin runs one bcrypt comparison on every path, known username or not.
      const account = await verifyLogin(db, typed, password, bcryptRounds, hashing);
      if (!account) {
        const shown = typed.replace(CONTROL_ALL, '').slice(0, 64);
        res.status(401).render('login', {
          title: 'Log in',
          username: shown,
          next: next ?? '',
          error: 'Wrong username or password.',
        });
        return;
      }
      // A new session id on login, so a session id planted before login is worth nothing after.
      await new Promise<void>((resolve, reject) => req.session.regenerate((err) => (err ? reject(err) : resolve())));
      req.session.user = newSessionUser(account);
      // Stored before the answer: express-session would send the redirect's headers first and
      // store the session after, and a browser follows a redirect on its headers, so a busy
      // MySQL showed the next page to an anonymous visitor.
      await new Promise<void>((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));
      setFlash(res, 'success', `Welcome, ${account.username}.`);
      res.redirect(next ?? homePath(account.role));
    },

    async logout(req: Request, res: Response): Promise<void> {
      await new Promise<void>((resolve, reject) => req.session.destroy((err) => (err ? reject(err) : resolve())));
      res.clearCookie(SESSION_COOKIE);
      res.redirect('/login');
    },
  };
}

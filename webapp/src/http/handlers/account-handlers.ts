import type { Request, Response } from 'express';
import type { Knex } from 'knex';
import { type HashingSlots, type OwnPasswordRefusal, changeOwnPassword } from '../../use-cases/accounts';
import { setFlash } from '../flash';
import { newSessionUser } from '../session';

/** What the account page shows: who is logged in, and the password form (with what was wrong). */
function renderAccount(req: Request, res: Response, refusal?: OwnPasswordRefusal): void {
  // A wrong current password is a 401 (counted by the per-account limiter, as a failed login);
  // a new password the rule refuses is the form's 400.
  res.status(refusal ? (refusal.field === 'current' ? 401 : 400) : 200).render('account', {
    title: 'Your account',
    account: req.session.user,
    refusal,
  });
}

export function accountHandlers(db: Knex, bcryptRounds: number, hashing?: HashingSlots) {
  return {
    show(req: Request, res: Response): void {
      renderAccount(req, res);
    },

    /** POST /account/password: the user's own password changed; every other session of theirs ends. */
    async changePassword(req: Request, res: Response): Promise<void> {
      const field = (name: string) => (typeof req.body?.[name] === 'string' ? (req.body[name] as string) : '');
      const outcome = await changeOwnPassword(
        db,
        req.session.user!.accountId,
        { current: field('current_password'), next: field('new_password'), repeated: field('repeat_password') },
        bcryptRounds,
        hashing,
      );
      if ('field' in outcome) return renderAccount(req, res, outcome);
      // Every session of the account ended with the change: this one goes on under a new id.
      await new Promise<void>((resolve, reject) => req.session.regenerate((err) => (err ? reject(err) : resolve())));
      req.session.user = newSessionUser(outcome);
      await new Promise<void>((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));
      setFlash(res, 'success', 'Your password is changed. Your other sessions are logged out.');
      res.redirect(303, '/account');
    },
  };
}

import type { CookieOptions, NextFunction, Request, RequestHandler, Response } from 'express';
import { type CsrfRequestMethod, doubleCsrf } from 'csrf-csrf';

export interface CsrfOptions {
  secret: string;
  cookieSecure: boolean;
}

export interface Csrf {
  /** Refuses a state-changing request whose form field (or header) is not its cookie's valid token. */
  protection: RequestHandler;
  /** The token a page's forms carry: the request's own when valid, else a new one (and its cookie). */
  token(req: Request, res: Response): string;
}

/**
 * Tokens remembered: 20,000 (more than the sessions a registration week keeps busy at once) hold
 * a few MB.
 */
const KNOWN_TOKENS = 20_000;

/**
 * Double-submit CSRF tokens (csrf-csrf: a token in an HttpOnly cookie and the same in each form,
 * its HMAC bound to the session once there is one, so the login form needs no stored session and
 * anonymous visitors leave no rows behind).
 *
 * csrf-csrf checks the cookie's HMAC on every page that shows a form (to reuse the token) and on
 * every POST: a fresh `createHmac` each time, ~5% of a catalogue page's CPU. A token is valid for a
 * session or it is not, whenever it is checked (the secret is the process's), so the pairs found
 * valid are remembered and the library is asked only about the others: a cookie never seen, or
 * seen under another session, is still checked in full. (csrf-csrf's own `req.csrfToken` is not
 * set on a request let through so; the portal's pages take their token from `token`.)
 */
export function createCsrf(o: CsrfOptions): Csrf {
  const cookieName = o.cookieSecure ? '__Host-campus.csrf' : 'campus.csrf';
  const identify = (req: Request) => (req.session?.user ? req.sessionID : 'anonymous');
  const fromRequest = (req: Request): string | undefined =>
    typeof req.body?._csrf === 'string' ? req.body._csrf : (req.headers['x-csrf-token'] as string | undefined);
  const { doubleCsrfProtection, generateCsrfToken } = doubleCsrf({
    getSecret: () => o.secret,
    getSessionIdentifier: identify,
    cookieName,
    cookieOptions: { sameSite: 'lax', secure: o.cookieSecure, httpOnly: true, path: '/' },
    getCsrfTokenFromRequest: fromRequest,
    ignoredMethods: IGNORED_METHODS,
  });
  const known = new KnownTokens(KNOWN_TOKENS);
  const cookieOf = (req: Request): unknown => req.cookies?.[cookieName];

  return {
    protection(req: Request, res: Response, next: NextFunction): void {
      const cookie = cookieOf(req);
      // The library's test, once its HMAC is known to hold: the field equals the cookie.
      if (
        !SAFE_METHODS.has(req.method) &&
        typeof cookie === 'string' &&
        cookie !== '' &&
        fromRequest(req) === cookie &&
        known.has(identify(req), cookie)
      )
        return next();
      doubleCsrfProtection(req, res, next);
    },
    token(req: Request, res: Response): string {
      const cookie = cookieOf(req);
      const id = identify(req);
      if (typeof cookie === 'string' && known.has(id, cookie)) return cookie;
      const token = generateCsrfToken(req, sendingNewCookies(req, res));
      // Either the request's own, found valid, or a new one made for this session.
      known.add(id, token);
      return token;
    },
  };
}

/** The methods csrf-csrf lets through unchecked (its default, named so the fast path agrees). */
const IGNORED_METHODS: CsrfRequestMethod[] = ['GET', 'HEAD', 'OPTIONS'];
const SAFE_METHODS = new Set<string>(IGNORED_METHODS);

/**
 * The response as csrf-csrf's token generator sees it: it re-sends the token cookie on every
 * page, also when it reuses the valid one the request carries, and that Set-Cookie was ~4% of a
 * catalogue page's CPU. Through this, only a new token's cookie is sent.
 */
function sendingNewCookies(req: Request, res: Response): Response {
  return {
    cookie: (name: string, value: string, options: CookieOptions) =>
      req.cookies?.[name] === value ? res : res.cookie(name, value, options),
  } as Response;
}

/**
 * Tokens found valid, each with the session it is valid for (its HMAC binds it to one), the
 * oldest forgotten first. Keyed by the token alone: no string is built to look one up.
 */
class KnownTokens {
  private readonly sessions = new Map<string, string>();

  constructor(private readonly max: number) {}

  has(id: string, token: string): boolean {
    return this.sessions.get(token) === id;
  }

  add(id: string, token: string): void {
    if (this.sessions.get(token) === id) return;
    if (!this.sessions.has(token) && this.sessions.size >= this.max)
      this.sessions.delete(this.sessions.keys().next().value!);
    this.sessions.set(token, id);
  }
}

import { portalError } from '../errors';

export interface DaemonAdmin {
  call(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<unknown>;
}

/**
 * The daemon's admin API (bearer token), as the operator console calls it. Its refusals keep their
 * meaning: 400 is the operator's input (shown as a form error), 404 and 409 what they say, the rest
 * a daemon that is down or failing.
 */
export function daemonAdmin(baseUrl: string, token: string, timeoutMs = 120_000): DaemonAdmin {
  return {
    async call(method, path, body) {
      let res: Response;
      try {
        res = await fetch(new URL(path, baseUrl), {
          method,
          headers: {
            Authorization: `Bearer ${token}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        throw portalError(
          'STORE_UNAVAILABLE',
          `The CDC daemon at ${new URL(baseUrl).host} did not answer (${err instanceof Error ? err.message : String(err)}).`,
        );
      }
      const answer = (await res.json().catch(() => ({}))) as { message?: string };
      if (!res.ok)
        throw portalError(
          res.status === 400
            ? 'VALIDATION_FAILED'
            : res.status === 404
              ? 'NOT_FOUND'
              : res.status === 409
                ? 'CONFLICT'
                : 'STORE_UNAVAILABLE',
          answer.message ?? `The CDC daemon answered ${res.status}.`,
        );
      return answer;
    },
  };
}

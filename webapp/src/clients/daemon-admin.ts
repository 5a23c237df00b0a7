import { portalError } from '../errors';

export interface DaemonAdmin {
  call(method: 'GET' | 'POST', path: string): Promise<unknown>;
}

/** The daemon's admin API (bearer token), as the operator console calls it. */
export function daemonAdmin(baseUrl: string, token: string, timeoutMs = 120_000): DaemonAdmin {
  return {
    async call(method, path) {
      let res: Response;
      try {
        res = await fetch(new URL(path, baseUrl), {
          method,
          headers: { Authorization: `Bearer ${token}` },
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        throw portalError(
          'STORE_UNAVAILABLE',
          `The CDC daemon at ${new URL(baseUrl).host} did not answer (${err instanceof Error ? err.message : String(err)}).`,
        );
      }
      const body = (await res.json().catch(() => ({}))) as { message?: string };
      if (!res.ok)
        throw portalError(
          res.status === 404 ? 'NOT_FOUND' : 'STORE_UNAVAILABLE',
          body.message ?? `The CDC daemon answered ${res.status}.`,
        );
      return body;
    },
  };
}

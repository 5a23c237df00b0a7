import type { Pool } from 'pg';
import type { DaemonAdmin } from '../../clients/daemon-admin';
import { portalError } from '../../errors';

/** What the console's pages need, each a clear 503 naming the variable when it is not set. */
export function consoleDeps(pg: Pool | undefined, admin: DaemonAdmin | undefined) {
  return {
    needPg(): Pool {
      if (!pg)
        throw portalError(
          'STORE_UNAVAILABLE',
          'The operator console needs POSTGRES_URL (the mirror and the daemon state); it is not set.',
        );
      return pg;
    },
    needAdmin(): DaemonAdmin {
      if (!admin)
        throw portalError(
          'STORE_UNAVAILABLE',
          'The controls need CDC_ADMIN_URL and CDC_ADMIN_TOKEN (the daemon admin API); they are not set (npm start sets them when it runs the portal and the daemon together).',
        );
      return admin;
    },
  };
}

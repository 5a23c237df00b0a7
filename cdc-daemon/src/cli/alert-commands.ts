import { listAlerts } from '../watch/alerts';
import type { CliDeps } from './commands';
import { formatTable } from './format';

/** `cdc alerts`: open incidents first, then recently resolved ones. */
export async function alertsCommand(deps: CliDeps, json: boolean): Promise<void> {
  const alerts = await listAlerts(deps.pool, 50);
  if (json) return deps.out(JSON.stringify(alerts));
  if (alerts.length === 0) return deps.out('No alerts: nothing has gone wrong yet.');
  deps.out(
    formatTable(
      alerts.map((a) => ({
        alert: a.id,
        state: a.resolvedAt ? 'resolved' : 'OPEN',
        kind: a.kind,
        subject: a.subject,
        opened: a.openedAt,
        resolved: a.resolvedAt,
        message: (a.resolution ?? a.message).slice(0, 100),
      })),
    ),
  );
}

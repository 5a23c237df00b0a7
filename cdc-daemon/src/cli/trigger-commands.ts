import { cdcError } from '../errors';
import { WatchLoop } from '../watch/watch-loop';
import { deliverDue } from '../watch/deliver-firings';
import {
  type TriggerRow,
  addTrigger,
  evaluateTriggers,
  listFirings,
  listTriggers,
  pauseTrigger,
  removeTrigger,
  resumeTrigger,
} from '../watch/triggers';
import { parseTrigger } from '../watch/parse-trigger';
import type { CliDeps } from './commands';
import { formatTable } from './format';

/** The flag each field of a trigger comes from, for error messages. */
const FLAGS: Record<string, string> = {
  name: '--name',
  table: '--table',
  minChanges: '--min-changes',
  maxAgeSeconds: '--max-age',
  webhook: '--webhook',
  secret: '--secret',
  action: '--action',
};

export interface AddOptions {
  name?: string;
  table?: string;
  minChanges?: number;
  maxAge?: number;
  webhook?: string;
  secret?: string;
  secretEnv?: string;
  action?: string;
}

/** `triggers add`: the secret comes from --secret, or better from the variable --secret-env names. */
export async function addTriggerCommand(deps: CliDeps, o: AddOptions, env: NodeJS.ProcessEnv): Promise<void> {
  let secret = o.secret;
  if (o.secretEnv) {
    if (secret) throw cdcError('BAD_TRIGGER', 'Give --secret or --secret-env, not both.');
    secret = env[o.secretEnv];
    if (!secret) throw cdcError('BAD_TRIGGER', `--secret-env ${o.secretEnv}: that environment variable is not set.`);
  }
  const t = parseTrigger(
    {
      name: o.name,
      table: o.table,
      minChanges: o.minChanges,
      maxAgeSeconds: o.maxAge,
      webhook: o.webhook,
      secret,
      action: o.action,
    },
    (k) => FLAGS[k] ?? k,
  );
  await addTrigger(deps.pool, t);
  deps.out(`trigger ${t.name} added: ${describe(t.minChanges ?? null, t.maxAgeSeconds ?? null)} on ${t.table}`);
}

function describe(minChanges: number | null, maxAge: number | null): string {
  const parts = [];
  if (minChanges !== null) parts.push(`${minChanges} changed rows`);
  if (maxAge !== null) parts.push(`${maxAge} s with changes pending`);
  return `fires at ${parts.join(' or ')}`;
}

const target = (t: TriggerRow) => (t.action === 'webhook' ? `${t.webhookUrl}${t.signed ? ' (signed)' : ''}` : t.action);

export async function listTriggersCommand(deps: CliDeps, json: boolean): Promise<void> {
  const triggers = await listTriggers(deps.pool);
  if (json) return deps.out(JSON.stringify(triggers));
  if (triggers.length === 0) return deps.out('No triggers yet: `npm run cdc -- triggers add --help` says how.');
  deps.out(
    formatTable(
      triggers.map((t) => ({
        name: t.name,
        table: t.table,
        'min changes': t.minChanges ?? '',
        'max age s': t.maxAgeSeconds ?? '',
        action: target(t),
        state: t.paused ? 'paused' : 'active',
        pending: t.pending.total,
        'last fired': t.lastFiredAt,
        'last firing': t.lastFiring
          ? `#${t.lastFiring.id} ${t.lastFiring.status}${t.lastFiring.lastError ? `: ${t.lastFiring.lastError.slice(0, 50)}` : ''}`
          : '',
      })),
    ),
  );
}

export async function firingsCommand(deps: CliDeps, name: string | undefined, limit: number, json: boolean) {
  const firings = await listFirings(deps.pool, name, limit);
  if (json) return deps.out(JSON.stringify(firings.map(({ payload: _p, ...f }) => f)));
  deps.out(
    formatTable(
      firings.map((f) => ({
        firing: f.id,
        trigger: f.trigger ?? `alert #${f.alertId}`,
        at: f.firedAt,
        action: f.action,
        status: f.status,
        attempts: f.attempts,
        why: f.reason.slice(0, 60),
        error: (f.lastError ?? '').slice(0, 60),
      })),
    ),
  );
}

export async function setTriggerState(deps: CliDeps, name: string, state: 'pause' | 'resume' | 'remove') {
  if (state === 'pause') await pauseTrigger(deps.pool, name);
  else if (state === 'resume') await resumeTrigger(deps.pool, name);
  else await removeTrigger(deps.pool, name);
  deps.out(`trigger ${name} ${state === 'pause' ? 'paused' : state === 'resume' ? 'resumed' : 'removed'}`);
}

/**
 * `triggers fire <name>`: fires now whatever the condition, and makes the first delivery attempt
 * here. False (exit 1) when that attempt failed: the firing stays recorded and the daemon retries it.
 */
export async function fireTriggerCommand(deps: CliDeps, name: string): Promise<boolean> {
  const [firing] = await evaluateTriggers(deps.pool, { only: name, manual: true });
  const loop = new WatchLoop(deps);
  const [result] = await deliverDue(loop.delivery, [firing!.id]);
  if (!result) {
    deps.out(`firing #${firing!.id} recorded; another process is delivering it`);
    return true;
  }
  if (result.status === 'succeeded') {
    deps.out(`firing #${firing!.id} of ${name} delivered: ${JSON.stringify(result.outcome)}`);
    return true;
  }
  deps.out(
    `firing #${firing!.id} of ${name} recorded, but its delivery failed (${result.error}); ${result.status === 'failed' ? 'no attempts left' : 'the running daemon retries it'}`,
  );
  return false;
}

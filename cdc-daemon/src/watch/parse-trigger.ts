import { z } from 'zod';
import { cdcError } from '../errors';
import { SINK_NAMES, type SinkName } from '../sinks/sink';

export type TriggerAction = 'webhook' | 'verify' | 'replay';

export interface TriggerDefinition {
  name: string;
  table: string;
  minChanges?: number;
  maxAgeSeconds?: number;
  action: TriggerAction;
  webhookUrl?: string;
  secret?: string;
  sink?: SinkName;
}

/** The fields of a new trigger, as the admin API's JSON body and the CLI's options give them. */
export const triggerInputSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'use 1 to 64 letters, digits, ".", "_" or "-"'),
    table: z.string().min(1, 'name a mirrored table, or * for every table').max(64),
    minChanges: z.number().int().min(1).max(1_000_000_000_000).optional(),
    maxAgeSeconds: z
      .number()
      .int()
      .min(1)
      .max(31 * 86_400)
      .optional(),
    webhook: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).optional(),
    secret: z.string().min(16, 'at least 16 characters (openssl rand -hex 24)').max(256).optional(),
    action: z
      .string()
      .regex(
        new RegExp(`^(webhook|verify|replay:(${SINK_NAMES.join('|')}))$`),
        `expected webhook, verify or replay:<sink> (${SINK_NAMES.join(', ')})`,
      )
      .optional(),
  })
  .strict();

export type TriggerInput = z.input<typeof triggerInputSchema>;

/** Checks a new trigger's fields; `field` names them as the caller's user knows them (flags, JSON keys). */
export function parseTrigger(raw: unknown, field: (key: string) => string = (k) => k): TriggerDefinition {
  const parsed = triggerInputSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) =>
      i.code === 'unrecognized_keys'
        ? `unknown field(s) ${i.keys.join(', ')}`
        : `${field(String(i.path[0] ?? ''))}: ${i.message}`,
    );
    throw cdcError('BAD_TRIGGER', `The trigger is not valid: ${problems.join('; ')}.`);
  }
  const v = parsed.data;
  const problems: string[] = [];
  if (v.minChanges === undefined && v.maxAgeSeconds === undefined)
    problems.push(`give ${field('minChanges')} and/or ${field('maxAgeSeconds')}: when it fires`);
  const action = v.action ?? (v.webhook ? 'webhook' : undefined);
  if (!action) problems.push(`give ${field('webhook')} or ${field('action')}: what it does`);
  if (action === 'webhook' && !v.webhook) problems.push(`the webhook action needs ${field('webhook')}`);
  if (action && action !== 'webhook' && v.webhook)
    problems.push(`${field('webhook')} and ${field('action')} ${action} exclude each other`);
  if (v.secret && action !== 'webhook') problems.push(`${field('secret')} only signs a webhook`);
  if (problems.length > 0) throw cdcError('BAD_TRIGGER', `The trigger is not valid: ${problems.join('; ')}.`);
  const [kind, sink] = action!.split(':') as [TriggerAction, SinkName | undefined];
  return {
    name: v.name,
    table: v.table,
    minChanges: v.minChanges,
    maxAgeSeconds: v.maxAgeSeconds,
    action: kind,
    webhookUrl: v.webhook,
    secret: v.secret,
    sink,
  };
}

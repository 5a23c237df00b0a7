import type { EventFailure } from './sink';

/**
 * Which events caused which entity writes, so a write the store refuses is reported against the
 * events behind it (the relay parks those, and only those).
 */
export class Attribution {
  private readonly causes = new Map<string, Set<number>>();

  add(entity: string, eventIds: Iterable<number>): void {
    let s = this.causes.get(entity);
    if (!s) this.causes.set(entity, (s = new Set()));
    for (const id of eventIds) s.add(id);
  }

  entities(): string[] {
    return [...this.causes.keys()];
  }

  failures(failed: Iterable<[entity: string, error: string]>): EventFailure[] {
    const out = new Map<number, string>();
    for (const [entity, error] of failed)
      for (const id of this.causes.get(entity) ?? []) if (!out.has(id)) out.set(id, `${entity}: ${error}`);
    return [...out].map(([eventId, error]) => ({ eventId, error }));
  }
}

/** When a periodic job launches next, by its cron expression in its time zone. */
import { Cron } from 'croner';
import type { PeriodicSpec } from '../api/types.js';

export function nextLaunch(p: PeriodicSpec, after: Date): Date | undefined {
  try {
    return new Cron(p.cron, { paused: true, timezone: p.timezone }).nextRun(after) ?? undefined;
  } catch {
    // the spec was validated on submit; a zone database change must not crash the server
    return undefined;
  }
}

/** `<parent>/periodic-<unix seconds of the scheduled time>`: one child per launch, never two */
export function periodicChildId(parentId: string, at: Date): string {
  return `${parentId}/periodic-${Math.floor(at.getTime() / 1000)}`;
}

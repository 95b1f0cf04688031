/**
 * Where a PostgreSQL store's time goes, statement by statement: every query
 * any pg.Client of this process sends (the store's pool and its LISTEN
 * connection alike) is timed from send to answer and filed under the bench
 * phase that sent it. Client-side times: they include the round trip and the
 * wait for a row lock, which is what a phase waits for.
 *
 * The phase is the asynchronous context's (AsyncLocalStorage), not "what runs
 * now": the store's own follow, woken by its NOTIFY listener, runs beside a
 * phase and is filed apart, so a phase's statements never add up to more
 * than the phase.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';

export const BACKGROUND = '(background: the store following commits on NOTIFY and its poll)';

export interface StatementStat {
  phase: string;
  sql: string;
  calls: number;
  ms: number;
  rows: number;
}

/**
 * One shape per statement: parameters and the tuples of a multi-row insert
 * collapse, so 200-row and 37-row batches of the same insert count together.
 */
function shapeOf(text: string): string {
  return text
    .replace(/\s+/g, ' ')
    .replace(/\$\d+/g, '?')
    .replace(/\((\?, )*\?\)(, \((\?, )*\?\))+/g, '(…), …')
    .replace(/\(("\w+", )+"\w+"\)/g, '(…)')
    .slice(0, 110);
}

type Query = (this: pg.Client, ...args: unknown[]) => unknown;

export class StatementProfile {
  private readonly phase = new AsyncLocalStorage<string>();
  private readonly stats = new Map<string, StatementStat>();

  /** wraps pg.Client#query until the returned function is called */
  install(): () => void {
    const proto = pg.Client.prototype as unknown as { query: Query };
    const original = proto.query;
    // the wrapper needs both the client (its own `this`) and the profile
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const profile = this;
    proto.query = function (this: pg.Client, ...args: unknown[]): unknown {
      const first = args[0];
      const text = typeof first === 'string' ? first : (first as { text?: string } | undefined)?.text;
      const out = original.apply(this, args);
      // only the promise form is timed: Kysely's driver and pg-pool's own queries use it
      if (text !== undefined && out instanceof Promise) {
        const phase = profile.phase.getStore() ?? BACKGROUND;
        const t = performance.now();
        out.then(
          (r: { rowCount?: number | null }) => profile.add(phase, text, performance.now() - t, r?.rowCount ?? 0),
          () => undefined,
        );
      }
      return out;
    };
    return () => {
      proto.query = original;
    };
  }

  /** runs fn as `phase`: what it sends, and what it starts, is filed under it */
  run<T>(phase: string, fn: () => Promise<T>): Promise<T> {
    return this.phase.run(phase, fn);
  }

  private add(phase: string, text: string, ms: number, rows: number): void {
    const sql = shapeOf(text);
    const key = `${phase}\0${sql}`;
    const s = this.stats.get(key) ?? { phase, sql, calls: 0, ms: 0, rows: 0 };
    s.calls++;
    s.ms += ms;
    s.rows += rows;
    this.stats.set(key, s);
  }

  /** the costliest statements of each phase, costliest first */
  top(perPhase: number): StatementStat[] {
    const byPhase = new Map<string, StatementStat[]>();
    for (const s of this.stats.values()) byPhase.set(s.phase, [...(byPhase.get(s.phase) ?? []), s]);
    return [...byPhase.values()].flatMap((list) => list.sort((a, b) => b.ms - a.ms).slice(0, perPhase));
  }

  /** statement time per phase: the rest of a phase is baton's own work in this process */
  totals(): Map<string, number> {
    const out = new Map<string, number>();
    for (const s of this.stats.values()) out.set(s.phase, (out.get(s.phase) ?? 0) + s.ms);
    return out;
  }
}

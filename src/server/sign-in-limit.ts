/**
 * Failed sign-ins per source address: after `max` wrong credentials within
 * `windowMs`, that source gets 429 on every authenticated route until the
 * window it started ends. Only failures count, so a busy agent or CLI is never
 * limited by its own traffic. Memory stays bounded: the oldest sources are
 * forgotten first.
 */
export interface SignInLimitOptions {
  max: number;
  windowMs: number;
  /** how many sources are remembered at most */
  maxSources: number;
}

export const DEFAULT_SIGN_IN_LIMIT: SignInLimitOptions = { max: 20, windowMs: 60_000, maxSources: 10_000 };

interface Entry {
  failures: number;
  windowStart: number;
}

export class SignInLimiter {
  private readonly sources = new Map<string, Entry>();

  constructor(readonly opts: SignInLimitOptions = DEFAULT_SIGN_IN_LIMIT) {}

  /** ms until this source may try again; 0 when it is not limited */
  retryAfterMs(source: string, now: number): number {
    const e = this.sources.get(source);
    if (!e) return 0;
    const end = e.windowStart + this.opts.windowMs;
    if (now >= end) {
      this.sources.delete(source);
      return 0;
    }
    return e.failures >= this.opts.max ? end - now : 0;
  }

  /** a wrong credential came from this source */
  fail(source: string, now: number): void {
    let e = this.sources.get(source);
    if (!e || now >= e.windowStart + this.opts.windowMs) {
      e = { failures: 0, windowStart: now };
      // re-inserted last: Map order is then oldest window first
      this.sources.delete(source);
      this.sources.set(source, e);
    }
    e.failures++;
    while (this.sources.size > this.opts.maxSources) {
      const oldest = this.sources.keys().next().value;
      if (oldest === undefined) break;
      this.sources.delete(oldest);
    }
  }
}

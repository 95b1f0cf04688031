/**
 * Waiting and retrying for the agent's loops. The agent must outlive a server
 * that is down, restarting or answering garbage, so every loop retries with a
 * growing, jittered delay instead of giving up or hammering the server.
 */
import { BatonApiError } from '../client/http.js';

/** Resolves after ms, or early (with false) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve(true);
      },
      Math.max(0, ms),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export class Backoff {
  private attempt = 0;
  constructor(
    private readonly minMs = 500,
    private readonly maxMs = 30_000,
  ) {}

  /** the next delay: doubles up to maxMs, with jitter so many agents do not retry in step */
  next(): number {
    const base = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.attempt, 20));
    this.attempt++;
    return Math.round(base * (0.75 + Math.random() * 0.5));
  }

  reset(): void {
    this.attempt = 0;
  }
}

/** Errors that may go away by themselves: no connection, server trouble, overload, a lost request. */
export function isTransient(err: unknown): boolean {
  if (err instanceof BatonApiError) return err.status === 0 || err.status >= 500 || err.status === 429 || err.status === 408;
  // aborts by our own timeouts and plain network errors
  return true;
}

export function httpStatus(err: unknown): number | undefined {
  return err instanceof BatonApiError ? err.status : undefined;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

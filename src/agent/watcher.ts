/**
 * The agent's blocking-query loop on its node's allocs: each answer is handed
 * to `onAllocs`, then the next query waits for a change after that answer's
 * index. Errors never end the loop; they back off and retry.
 */
import type { Logger } from 'pino';
import type { AgentAlloc, AgentAllocsResponse, RestartPolicy } from '../api/types.js';
import { Backoff, errorMessage, httpStatus, sleep } from './backoff.js';

export interface WatcherOptions {
  fetch: (index: number, waitMs: number, signal: AbortSignal) => Promise<AgentAllocsResponse>;
  onAllocs: (allocs: AgentAlloc[]) => void | Promise<void>;
  /** the server no longer knows the node's secret */
  onUnauthorized: () => Promise<void>;
  logger: Logger;
  signal: AbortSignal;
  waitMs?: number;
  /**
   * Aborts when the server answers again after a silence: a query sent into a
   * partition hangs on a dead connection (up to its wait and more), and the
   * backoff after failed ones may be long; either would leave the agent
   * running allocs the server replaced meanwhile.
   */
  renewed?: () => AbortSignal;
}

/**
 * Entries the agent can act on, with gaps filled by safe defaults; entries it
 * cannot act on are logged and skipped, never trusted.
 */
export function validAllocs(raw: unknown, logger: Logger): AgentAlloc[] {
  if (!Array.isArray(raw)) return [];
  const out: AgentAlloc[] = [];
  for (const aa of raw as AgentAlloc[]) {
    const ok =
      typeof aa?.alloc?.id === 'string' &&
      aa.alloc.id.length > 0 &&
      (aa.alloc.desiredStatus === 'run' || aa.alloc.desiredStatus === 'stop') &&
      Array.isArray(aa.job?.tasks) &&
      aa.job.tasks.length > 0 &&
      aa.job.tasks.every((t) => typeof t?.name === 'string' && t.name.length > 0 && typeof t?.driver === 'string');
    if (ok) out.push(normalise(aa));
    else logger.warn({ allocId: aa?.alloc?.id }, 'ignoring a malformed alloc from the server');
  }
  return out;
}

function normalise(aa: AgentAlloc): AgentAlloc {
  const job = aa.job;
  const type = job.type === 'batch' ? 'batch' : 'service';
  const r = job.restart as Partial<RestartPolicy> | undefined;
  const num = (v: unknown, d: number): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : d);
  return {
    alloc: aa.alloc,
    ...(typeof aa.payload === 'string' ? { payload: aa.payload } : {}),
    ...(typeof aa.secretsStamp === 'string' ? { secretsStamp: aa.secretsStamp } : {}),
    job: {
      ...job,
      type,
      // batch: 0, the server retries a failed batch alloc as a new alloc
      restart: {
        attempts: num(r?.attempts, type === 'batch' ? 0 : 2),
        intervalMs: num(r?.intervalMs, 30 * 60_000),
        delayMs: num(r?.delayMs, 15_000),
        mode: r?.mode === 'delay' ? 'delay' : 'fail',
      },
      tasks: job.tasks.map((t) => ({
        ...t,
        args: Array.isArray(t.args) ? t.args.map(String) : [],
        env: t.env && typeof t.env === 'object' ? t.env : {},
        resources: { cpu: num(t.resources?.cpu, 0), memory: num(t.resources?.memory, 0), disk: num(t.resources?.disk, 0) },
        killSignal: typeof t.killSignal === 'string' && t.killSignal ? t.killSignal : 'SIGTERM',
        killTimeoutMs: num(t.killTimeoutMs, 5000),
      })),
    },
  };
}

export async function watchAllocs(opts: WatcherOptions): Promise<void> {
  const { logger, signal } = opts;
  const waitMs = opts.waitMs ?? 30_000;
  const backoff = new Backoff(500, 15_000);
  let index = 0;
  while (!signal.aborted) {
    const startedAt = Date.now();
    const renewed = opts.renewed?.();
    try {
      // a request that hangs past the wait means a dead connection: give up on it and ask again
      const res = await opts.fetch(index, waitMs, AbortSignal.any([signal, AbortSignal.timeout(waitMs + 30_000), ...(renewed ? [renewed] : [])]));
      if (typeof res?.index !== 'number' || !Array.isArray(res.allocs)) throw new Error('malformed alloc list from the server');
      await opts.onAllocs(validAllocs(res.allocs, logger));
      const unchanged = res.index === index;
      index = res.index;
      backoff.reset();
      // a server that answers at once without news would make this loop spin
      if (unchanged && Date.now() - startedAt < 1000) await sleep(1000, signal);
    } catch (err) {
      if (signal.aborted) return;
      if (renewed?.aborted) {
        logger.info('the server answers again: asking for the allocs anew');
        backoff.reset();
        continue;
      }
      if (httpStatus(err) === 401) {
        index = 0;
        await opts.onUnauthorized().catch((e) => logger.error({ err: errorMessage(e) }, 'registering again failed'));
      }
      const delay = backoff.next();
      logger.warn({ err: errorMessage(err), retryInMs: delay }, 'watching allocs failed; retrying');
      await sleep(delay, renewed ? AbortSignal.any([signal, renewed]) : signal);
    }
  }
}

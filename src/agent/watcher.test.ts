import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { AgentAllocsResponse } from '../api/types.js';
import { BatonApiError } from '../client/http.js';
import { validAllocs, watchAllocs } from './watcher.js';

const logger = pino({ level: 'silent' });
const good = (id: string, extra: Record<string, unknown> = {}) => ({
  alloc: { id, desiredStatus: 'run' },
  job: { name: 'j', type: 'batch', tasks: [{ name: 'main', driver: 'exec' }], ...extra },
});

describe('validAllocs', () => {
  it('skips entries it cannot act on', () => {
    const raw = [
      good('a'),
      null,
      { alloc: { id: 'b', desiredStatus: 'maybe' }, job: { tasks: [] } },
      { alloc: { id: 'c', desiredStatus: 'run' }, job: { tasks: [{ driver: 'exec' }] } },
      good('d'),
    ];
    expect(validAllocs(raw, logger).map((a) => a.alloc.id)).toEqual(['a', 'd']);
    expect(validAllocs({ not: 'a list' }, logger)).toEqual([]);
  });

  it('fills gaps with safe defaults: batch never restarts locally', () => {
    const [a] = validAllocs([good('a')], logger);
    expect(a.job.restart).toEqual({ attempts: 0, intervalMs: 1_800_000, delayMs: 15_000, mode: 'fail' });
    expect(a.job.tasks[0]).toMatchObject({ args: [], env: {}, resources: { cpu: 0, memory: 0, disk: 0 }, killSignal: 'SIGTERM', killTimeoutMs: 5000 });
  });

  it('keeps what the server gave', () => {
    const [a] = validAllocs([good('a', { type: 'service', restart: { attempts: 5, intervalMs: 10, delayMs: 1, mode: 'delay' } })], logger);
    expect(a.job.type).toBe('service');
    expect(a.job.restart).toEqual({ attempts: 5, intervalMs: 10, delayMs: 1, mode: 'delay' });
  });

  it('keeps a dispatched payload', () => {
    const [a, b] = validAllocs([{ ...good('a'), payload: 'eyJ4IjoxfQ==' }, good('b')], logger);
    expect(a.payload).toBe('eyJ4IjoxfQ==');
    expect(b.payload).toBeUndefined();
  });
});

describe('watchAllocs', () => {
  it('passes each answer on, blocks on its index, survives errors and re-registers on 401', async () => {
    const ac = new AbortController();
    const indexes: number[] = [];
    const seen: string[][] = [];
    let unauthorized = 0;
    const answers: Array<AgentAllocsResponse | Error> = [
      { index: 5, allocs: [good('a')] as never },
      new BatonApiError(0, 'down'),
      new BatonApiError(401, 'unknown node'),
      { index: 7, allocs: [] },
    ];
    await watchAllocs({
      fetch: async (index) => {
        indexes.push(index);
        const a = answers.shift();
        if (!a) {
          ac.abort();
          throw new Error('aborted');
        }
        if (a instanceof Error) throw a;
        return a;
      },
      onAllocs: (allocs) => void seen.push(allocs.map((x) => x.alloc.id)),
      onUnauthorized: async () => void unauthorized++,
      logger,
      signal: ac.signal,
    });
    expect(seen).toEqual([['a'], []]);
    // after a 401 the node may be a new one: start over from index 0
    expect(indexes).toEqual([0, 5, 5, 0, 7]);
    expect(unauthorized).toBe(1);
  });
});

describe('watchAllocs after a partition', () => {
  it('drops a query hanging on a dead connection, and a long backoff, when the server answers again', async () => {
    const abort = new AbortController();
    let renewed = new AbortController();
    const calls: number[] = [];
    let answered = 0;
    const loop = watchAllocs({
      logger,
      signal: abort.signal,
      waitMs: 60_000,
      renewed: () => renewed.signal,
      onUnauthorized: async () => undefined,
      onAllocs: () => {
        answered++;
      },
      fetch: (index, _wait, signal) => {
        calls.push(index);
        // the first query hangs (the partition); the second fails (backoff); the third answers
        if (calls.length === 1) return new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
        if (calls.length === 2) return Promise.reject(new Error('connect ECONNREFUSED'));
        return Promise.resolve({ index: 7, allocs: [] } satisfies AgentAllocsResponse);
      },
    });
    const renew = () => {
      renewed.abort();
      renewed = new AbortController();
    };
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toHaveLength(1);
    renew();
    await new Promise((r) => setTimeout(r, 50));
    // asked again at once, and failed: now it backs off (500 ms first) unless the server answers again
    expect(calls).toHaveLength(2);
    renew();
    await new Promise((r) => setTimeout(r, 50));
    expect(calls.slice(0, 3)).toEqual([0, 0, 0]);
    expect(answered).toBeGreaterThanOrEqual(1);
    abort.abort();
    await loop;
  });
});

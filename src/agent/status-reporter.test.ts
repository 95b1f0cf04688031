import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { AllocStatusUpdate } from '../api/types.js';
import { BatonApiError } from '../client/http.js';
import { Backoff } from './backoff.js';
import { StatusReporter } from './status-reporter.js';

const logger = pino({ level: 'silent' });
const upd = (allocId: string, clientDescription: string): AllocStatusUpdate => ({ allocId, clientStatus: 'running', clientDescription, taskStates: {} });

function reporter(send: (u: AllocStatusUpdate[]) => Promise<unknown>, signal = new AbortController().signal) {
  return new StatusReporter({ send, logger, signal, coalesceMs: 5, backoff: new Backoff(1, 2) });
}

describe('StatusReporter', () => {
  it('coalesces updates per alloc (latest wins) into one batch', async () => {
    const batches: AllocStatusUpdate[][] = [];
    const r = reporter(async (u) => batches.push(u));
    await Promise.all([r.report(upd('a', '1')), r.report(upd('a', '2')), r.report(upd('b', '1'))]);
    expect(batches).toHaveLength(1);
    expect(batches[0].map((u) => `${u.allocId}:${u.clientDescription}`)).toEqual(['a:2', 'b:1']);
  });

  it('retries after failures and still sends the latest state', async () => {
    const batches: AllocStatusUpdate[][] = [];
    let fail = 3;
    const r = reporter(async (u) => {
      if (fail-- > 0) {
        // a newer state arrives while the server is down
        if (fail === 1) void r.report(upd('a', 'newest'));
        throw new BatonApiError(0, 'down');
      }
      batches.push(u);
    });
    await r.report(upd('a', 'old'));
    expect(batches.flat().map((u) => u.clientDescription)).toEqual(['newest']);
    expect(r.backlog).toBe(0);
  });

  it('drops only the update the server refuses for good', async () => {
    const batches: AllocStatusUpdate[][] = [];
    const r = reporter(async (u) => {
      if (u.some((x) => x.allocId === 'bad')) throw new BatonApiError(404, 'unknown alloc');
      batches.push(u);
    });
    await Promise.all([r.report(upd('good', 'x')), r.report(upd('bad', 'y'))]);
    expect(batches.flat().map((u) => u.allocId)).toEqual(['good']);
    expect(r.backlog).toBe(0);
  });

  it('sends nothing after the agent closed', async () => {
    const ac = new AbortController();
    let sent = 0;
    const r = reporter(async () => {
      sent++;
    }, ac.signal);
    ac.abort();
    void r.report(upd('a', 'x'));
    await new Promise((res) => setTimeout(res, 30));
    expect(sent).toBe(0);
    expect(r.backlog).toBe(1);
  });
});

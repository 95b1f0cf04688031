import { getEventListeners } from 'node:events';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { LogChunk } from '../api/types.js';
import { BatonApiError } from '../client/http.js';
import type { LogRecord } from '../drivers/driver.js';
import { Backoff } from './backoff.js';
import { LogShipper } from './log-shipper.js';

const logger = pino({ level: 'silent' });

function rec(stream: 'stdout' | 'stderr', data: string | Buffer, cursor: string): LogRecord {
  return { stream, data: typeof data === 'string' ? Buffer.from(data) : data, cursor };
}

async function* fromArray(records: LogRecord[]): AsyncIterable<LogRecord> {
  for (const r of records) yield r;
}

function shipper(
  records: AsyncIterable<LogRecord>,
  ship: (c: LogChunk[]) => Promise<unknown>,
  cursors: string[],
  extra: { maxBatchBytes?: number; signal?: AbortSignal } = {},
) {
  return new LogShipper({
    allocId: 'a1',
    task: 'main',
    source: records,
    ship,
    saveCursor: async (c) => {
      cursors.push(c);
    },
    signal: extra.signal ?? new AbortController().signal,
    logger,
    maxBatchBytes: extra.maxBatchBytes,
    backoff: new Backoff(1, 2),
  });
}

describe('LogShipper', () => {
  it("leaves no listener on the agent's signal once it is done: that signal outlives thousands of tasks", async () => {
    const agent = new AbortController();
    for (let i = 0; i < 50; i++) {
      const s = shipper(fromArray([rec('stdout', `run ${i}`, '1')]), async () => undefined, [], { signal: agent.signal });
      expect(await s.run()).toBe('drained');
    }
    expect(getEventListeners(agent.signal, 'abort')).toHaveLength(0);
  });

  it('ships everything in order, merging neighbours of the same stream, and saves the last cursor', async () => {
    const sent: LogChunk[][] = [];
    const cursors: string[] = [];
    const s = shipper(
      fromArray([rec('stdout', 'a', '1'), rec('stdout', 'b', '2'), rec('stderr', 'c', '3'), rec('stdout', 'd', '4')]),
      async (c) => sent.push(c),
      cursors,
    );
    expect(await s.run()).toBe('drained');
    const all = sent.flat();
    expect(all.map((c) => `${c.stream}:${c.data}`).join('|')).toBe('stdout:ab|stderr:c|stdout:d');
    expect(all.every((c) => c.allocId === 'a1' && c.task === 'main')).toBe(true);
    expect(cursors.at(-1)).toBe('4');
  });

  it('keeps each request within the byte limit and splits a record larger than it', async () => {
    const sent: LogChunk[][] = [];
    const cursors: string[] = [];
    const big = 'x'.repeat(250);
    const s = shipper(
      fromArray([rec('stdout', 'y'.repeat(60), '1'), rec('stdout', big, '2'), rec('stderr', 'z'.repeat(10), '3')]),
      async (c) => sent.push(c),
      cursors,
      { maxBatchBytes: 100 },
    );
    await s.run();
    for (const req of sent) expect(req.reduce((n, c) => n + Buffer.byteLength(c.data), 0)).toBeLessThanOrEqual(100);
    expect(
      sent
        .flat()
        .map((c) => c.data)
        .join(''),
    ).toBe('y'.repeat(60) + big + 'z'.repeat(10));
    // no cursor in the middle of the big record: a restart must not skip its tail
    expect(cursors).not.toContain(undefined);
    expect(cursors.at(-1)).toBe('3');
    for (const c of cursors) expect(['1', '2', '3']).toContain(c);
  });

  it('never cuts a multi-byte character in two', async () => {
    const sent: LogChunk[][] = [];
    const text = 'é'.repeat(100); // 2 bytes each
    const bytes = Buffer.from(text);
    const s = shipper(fromArray([rec('stdout', bytes.subarray(0, 51), '1'), rec('stdout', bytes.subarray(51), '2')]), async (c) => sent.push(c), [], {
      maxBatchBytes: 33,
    });
    await s.run();
    expect(
      sent
        .flat()
        .map((c) => c.data)
        .join(''),
    ).toBe(text);
    expect(sent.flat().every((c) => !c.data.includes('\uFFFD'))).toBe(true);
  });

  it('retries a failed request with the same data and loses nothing', async () => {
    const sent: LogChunk[][] = [];
    let failures = 2;
    const cursors: string[] = [];
    const s = shipper(
      fromArray([rec('stdout', 'hello', '1')]),
      async (c) => {
        if (failures-- > 0) throw new BatonApiError(0, 'cannot reach the baton server');
        sent.push(c);
      },
      cursors,
    );
    expect(await s.run()).toBe('drained');
    expect(sent.flat().map((c) => c.data)).toEqual(['hello']);
    expect(cursors).toEqual(['1']);
  });

  it('drops a batch the server refuses for good instead of blocking the task', async () => {
    const cursors: string[] = [];
    const s = shipper(
      fromArray([rec('stdout', 'bad', '1')]),
      async () => {
        throw new BatonApiError(400, 'bad chunk');
      },
      cursors,
    );
    expect(await s.run()).toBe('drained');
    expect(cursors).toEqual(['1']);
  });

  it('flushes a slow stream without waiting for it to end', async () => {
    const sent: LogChunk[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    async function* slow(): AsyncIterable<LogRecord> {
      yield rec('stdout', 'early', '1');
      await gate;
      yield rec('stdout', 'late', '2');
    }
    const s = shipper(slow(), async (c) => sent.push(c), []);
    const done = s.run();
    for (let i = 0; i < 300 && sent.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(sent.flat().map((c) => c.data)).toEqual(['early']);
    release();
    await done;
    expect(sent.flat().map((c) => c.data)).toEqual(['early', 'late']);
  });

  it('stops on abort without saving a cursor past what was acknowledged', async () => {
    const ac = new AbortController();
    const cursors: string[] = [];
    async function* forever(): AsyncIterable<LogRecord> {
      yield rec('stdout', 'x', '1');
      await new Promise(() => undefined);
    }
    const s = shipper(
      forever(),
      async () => {
        throw new BatonApiError(503, 'busy');
      },
      cursors,
      { signal: ac.signal },
    );
    const done = s.run();
    setTimeout(() => ac.abort(), 20);
    expect(await done).toBe('aborted');
    expect(cursors).toEqual([]);
  });
});

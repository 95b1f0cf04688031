import { describe, expect, it } from 'vitest';
import type { DispatchResponse, DispatchRun, Job } from '../api/types.js';
import { BatonApiError } from '../client/http.js';
import { formatError } from './output.js';
import { checkParts, dispatchParts, partCount, PartialDispatchError, sendSweep } from './dispatch-parts.js';
import { matrixRuns, parseMatrixFlags } from './sweep.js';

const plan = (spec: string) => matrixRuns(parseMatrixFlags([spec]));

describe('dispatchParts', () => {
  it('splits a sweep into parts of 10,000 with the row each starts at', () => {
    const parts = [...dispatchParts(plan('i=1..25000'), undefined)];
    expect(parts.map((p) => [p.offset, p.runs.length])).toEqual([
      [0, 10_000],
      [10_000, 10_000],
      [20_000, 5_000],
    ]);
    expect(parts[1].runs[0]).toEqual({ meta: { i: '10001' } });
    expect(parts[2].runs[4999]).toEqual({ meta: { i: '25000' } });
    expect(partCount(25_000)).toBe(3);
    expect(partCount(10_000)).toBe(1);
  });
  it('gives every run the payload, and makes a part only when asked for the next', () => {
    const gen = dispatchParts(plan('i=1..1000000'), 'eA==', 1000);
    const first = gen.next().value!;
    expect(first.runs[0]).toEqual({ meta: { i: '1' }, payload: 'eA==' });
    let n = 1;
    for (const p of gen) n += p.runs.length > 0 ? 1 : 0;
    expect(n).toBe(1000);
  });
});

describe('checkParts', () => {
  const parent = {
    id: 'sim',
    spec: { parameterized: { metaRequired: ['i'], metaOptional: [], payload: 'forbidden' } },
  } as unknown as Job;
  it('names a bad run by its row in the whole sweep', () => {
    const parts = [...dispatchParts(plan('i=1..25000'), undefined)];
    parts[2].runs[3] = { meta: { i: '1', colour: 'red' } };
    expect(checkParts(parent, parts)).toEqual([{ path: 'runs[20003].meta.colour', message: 'unknown meta "colour"; this job takes i' }]);
  });
  it('names a problem of the job itself once', () => {
    const plain = { id: 'hello', spec: {} } as unknown as Job;
    const problems = checkParts(plain, dispatchParts(plan('i=1..25000'), undefined));
    expect(problems).toHaveLength(1);
    expect(problems[0].message).toMatch(/job "hello" is not parameterized/);
  });
  it('stops at the first 100 problems', () => {
    expect(checkParts(parent, dispatchParts(plan('j=1..500'), undefined))).toHaveLength(100);
    expect(checkParts(parent, dispatchParts(plan('i=1..500'), undefined))).toEqual([]);
  });
});

/** a server that stores parts like the real one (offset checks, repeats), failing as told */
function server(failures: Array<BatonApiError | 'store-then-drop'> = []) {
  let total = 0;
  let sweepId: string | undefined;
  const calls: Array<{ n: number; sweepId?: string; offset?: number }> = [];
  const client = {
    calls,
    dispatch: async (_job: string, runs: DispatchRun[], _ns?: string, part?: { sweepId: string; offset: number }): Promise<DispatchResponse> => {
      calls.push({ n: runs.length, ...(part ?? {}) });
      const fail = failures.shift();
      if (fail instanceof BatonApiError) throw fail;
      const offset = part?.offset ?? 0;
      if (sweepId !== undefined && part?.sweepId !== sweepId) throw new BatonApiError(404, 'no such sweep');
      sweepId ??= part?.sweepId ?? '3f2a9c1e-1111-2222-3333-444444444444';
      const ids = runs.map((_, i) => `sim/${sweepId!.slice(0, 8)}-${offset + i}`);
      if (part && offset + runs.length <= total) return { sweepId, jobs: ids, total, repeated: true };
      if (part && offset !== total) throw new BatonApiError(409, `next part starts at row ${total}, not ${offset}`);
      total = offset + runs.length;
      if (fail === 'store-then-drop') throw new BatonApiError(0, 'cannot reach the baton server at http://x: ECONNRESET');
      return { sweepId, jobs: ids, total };
    },
  };
  return client;
}

const noSleep = async (): Promise<void> => {};

describe('sendSweep', () => {
  it("names the sweep in every part, the first too, with each part's offset", async () => {
    const c = server();
    const p = plan('i=1..25000');
    const stored: number[] = [];
    const sent = await sendSweep(c, 'sim', 'default', p, dispatchParts(p, undefined), {
      onPart: (n) => void stored.push(n),
      sleep: noSleep,
      newSweepId: () => '3f2a9c1e-1111-2222-3333-444444444444',
    });
    expect(c.calls).toEqual([
      { n: 10_000, sweepId: '3f2a9c1e-1111-2222-3333-444444444444', offset: 0 },
      { n: 10_000, sweepId: '3f2a9c1e-1111-2222-3333-444444444444', offset: 10_000 },
      { n: 5_000, sweepId: '3f2a9c1e-1111-2222-3333-444444444444', offset: 20_000 },
    ]);
    expect(stored).toEqual([10_000, 20_000, 25_000]);
    expect(sent).toEqual({ sweepId: '3f2a9c1e-1111-2222-3333-444444444444', total: 25_000, parts: 3, firstJob: 'sim/3f2a9c1e-0' });
  });
  it('sends a part again after a lost answer or a 5xx; the server knows the repeat', async () => {
    const c = server([undefined as never, 'store-then-drop', new BatonApiError(503, 'busy')]);
    const p = plan('i=1..25000');
    const logs: string[] = [];
    const sent = await sendSweep(c, 'sim', 'default', p, dispatchParts(p, undefined), { log: (l) => void logs.push(l), sleep: noSleep });
    expect(sent.total).toBe(25_000);
    expect(c.calls.map((x) => x.offset)).toEqual([0, 10_000, 10_000, 10_000, 20_000]);
    expect(logs[0]).toMatch(/ECONNRESET; sending runs 10001 to 20000 again in 0.5s \(try 2 of 5\)/);
    expect(logs[1]).toMatch(/busy; sending runs 10001 to 20000 again in 1s \(try 3 of 5\)/);
  });
  it('gives up after five tries, saying which runs are stored', async () => {
    const down = new BatonApiError(0, 'cannot reach the baton server at http://x: ECONNREFUSED');
    const c = server([undefined as never, down, down, down, down, down]);
    const p = plan('i=1..25000');
    const err = await sendSweep(c, 'sim', 'default', p, dispatchParts(p, undefined), {
      sleep: noSleep,
      newSweepId: () => '3f2a9c1e-1111-2222-3333-444444444444',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PartialDispatchError);
    expect((err as Error).message).toContain('the first 10,000 runs (sweep 3f2a9c1e) are stored and will run; runs 10,001 to 25,000 were not stored');
    expect(c.calls).toHaveLength(6);
  });
  it('sends the first part again after a lost answer too: it named its sweep, so the repeat is known', async () => {
    const p = plan('i=1..3');
    const reset = server(['store-then-drop', new BatonApiError(504, 'gateway timeout')]);
    const sent = await sendSweep(reset, 'sim', 'default', p, dispatchParts(p, undefined), { sleep: noSleep });
    expect(sent.total).toBe(3);
    // stored once, answered as a repeat the second time
    expect(reset.calls).toHaveLength(3);
    expect(new Set(reset.calls.map((c) => c.sweepId)).size).toBe(1);
  });
  it("picks another sweep id when the first one's ids are taken by another sweep", async () => {
    const p = plan('i=1..3');
    const taken = server([new BatonApiError(409, 'sweep id 3f2a9c1e is taken by another sweep of "sim": send the first part with another sweep id')]);
    const ids = ['3f2a9c1e-1111-2222-3333-444444444444', '7d1e0b2a-1111-2222-3333-444444444444'];
    const sent = await sendSweep(taken, 'sim', 'default', p, dispatchParts(p, undefined), { sleep: noSleep, newSweepId: () => ids.shift()! });
    expect(sent.sweepId).toBe('7d1e0b2a-1111-2222-3333-444444444444');
  });
  it('names the sweep row of a run the server rejects, in a later part too', async () => {
    const bad = new BatonApiError(400, 'nothing was dispatched (1 problem): runs[2].meta.i: run 3: too big', [
      { path: 'runs[2].meta.i', message: 'run 3: too big' },
    ]);
    const c = server([undefined as never, bad]);
    const p = plan('i=1..25000');
    const err = (await sendSweep(c, 'sim', 'default', p, dispatchParts(p, undefined), { sleep: noSleep }).catch((e: unknown) => e)) as BatonApiError;
    expect(err.details).toEqual([{ path: 'run 10,003, from --matrix i=10003: meta.i', message: 'too big' }]);
    // the message quotes that run by the same name, so the CLI prints it once
    expect(err.message).toMatch(/^nothing was dispatched \(1 problem\): run 10,003, from --matrix i=10003: meta\.i: too big\n/);
    expect(formatError(err)).toEqual([
      'Error: nothing was dispatched (1 problem):',
      '  run 10,003, from --matrix i=10003: meta.i: too big',
      expect.stringMatching(/^the first 10,000 runs \(sweep [0-9a-f]{8}\) are stored and will run; runs 10,001 to 25,000 were not stored$/),
    ]);
    expect(err.status).toBe(400);
  });
});

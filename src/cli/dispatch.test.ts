import { describe, expect, it } from 'vitest';
import { Command, Option } from 'commander';
import { BatonApiError } from '../client/http.js';
import { dispatchedMessage, runsFromFlags, storedLine, type DispatchFlags } from './commands/dispatch.js';
import { CSV_UNSUPPORTED, globalOptions } from './config.js';
import { explainDispatchError } from './dispatch-parts.js';

function flags(over: Partial<DispatchFlags> = {}): DispatchFlags {
  return { meta: [], matrix: [], ...over };
}

const files: Record<string, string> = {
  'params.csv': 'scenario,seed\n1,7\n2,"8"\n',
  'input.json': '{"x": 1}',
};
const read = (file: string, what: string): Buffer => {
  if (!(file in files)) throw new Error(`${what} ${file} does not exist`);
  return Buffer.from(files[file]);
};

describe('runsFromFlags (baton dispatch)', () => {
  it('makes one run from --meta and --payload, the payload in base64', () => {
    const { plan, payload } = runsFromFlags(flags({ meta: ['scenario=42'], payload: 'input.json' }), read);
    expect([...plan].map((r) => r.meta)).toEqual([{ scenario: '42' }]);
    expect(payload).toBe(Buffer.from('{"x": 1}').toString('base64'));
  });
  it('makes a run per sweep row with --meta added, and no payload key without --payload', () => {
    const { plan, payload } = runsFromFlags(flags({ sweep: 'params.csv', meta: ['model=v2'] }), read);
    expect([...plan].map((r) => r.meta)).toEqual([
      { scenario: '1', seed: '7', model: 'v2' },
      { scenario: '2', seed: '8', model: 'v2' },
    ]);
    expect(plan.at(1).origin).toBe('params.csv row 2 (line 3)');
    expect(payload).toBeUndefined();
  });
  it('makes the matrix product', () => {
    expect(runsFromFlags(flags({ matrix: ['scenario=1..50', 'seed=1,2,3'] }), read).plan.total).toBe(150);
    expect(runsFromFlags(flags({ matrix: ['i=1..1000000'] }), read).plan.total).toBe(1_000_000);
  });
  it('refuses to read stdin twice', () => {
    expect(() => runsFromFlags(flags({ sweep: '-', payload: '-' }), read)).toThrow('cannot both read stdin');
  });
});

describe('explainDispatchError', () => {
  it('turns runs[i] in the server details into the sweep row', () => {
    const { plan } = runsFromFlags(flags({ sweep: 'params.csv' }), read);
    const err = explainDispatchError(
      new BatonApiError(400, 'invalid dispatch', [{ path: 'runs[1].meta.scenario', message: 'must be one of 1' }]),
      plan,
    ) as BatonApiError;
    expect(err).toBeInstanceOf(BatonApiError);
    expect(err.status).toBe(400);
    expect(err.details).toEqual([{ path: 'run 2, from params.csv row 2 (line 3): meta.scenario', message: 'must be one of 1' }]);
    const other = new Error('x');
    expect(explainDispatchError(other, plan)).toBe(other);
  });
});

describe('dispatchedMessage', () => {
  it('names the child of a single run and counts a sweep, and its parts', () => {
    expect(dispatchedMessage('sim', { sweepId: '3f2a9c1e-0000', firstJob: 'sim/3f2a9c1e-0', total: 1, parts: 1 })).toBe(
      'dispatched sim/3f2a9c1e-0 (sweep 3f2a9c1e)',
    );
    expect(dispatchedMessage('sim', { sweepId: '3f2a9c1e-0000', firstJob: 'a', total: 2, parts: 1 })).toBe('dispatched 2 runs of sim (sweep 3f2a9c1e)');
    expect(dispatchedMessage('sim', { sweepId: '3f2a9c1e-0000', total: 1_000_000, parts: 100 })).toBe(
      'dispatched 1,000,000 runs of sim (sweep 3f2a9c1e, sent in 100 parts)',
    );
    expect(storedLine(340_000, 1_000_000)).toBe('stored 340,000 of 1,000,000 runs');
  });
});

describe('-o csv', () => {
  function cmdWith(output: string): Command {
    const program = new Command().addOption(new Option('-o, --output <format>').choices(['table', 'json', 'csv']).default('table'));
    const sub = program.command('x').action(() => {});
    program.parse(['node', 'baton', '-o', output, 'x']);
    return sub;
  }
  it('is accepted only where a command says it lists runs', () => {
    expect(() => globalOptions(cmdWith('csv'))).toThrow(CSV_UNSUPPORTED);
    expect(globalOptions(cmdWith('csv'), { csv: true }).output).toBe('csv');
    expect(globalOptions(cmdWith('json')).output).toBe('json');
  });
});

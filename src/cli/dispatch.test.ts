import { describe, expect, it } from 'vitest';
import { Command, Option } from 'commander';
import { BatonApiError } from '../client/http.js';
import { dispatchedMessage, explainDispatchError, runsFromFlags, type DispatchFlags } from './commands/dispatch.js';
import { CSV_UNSUPPORTED, globalOptions } from './config.js';

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
    const { runs } = runsFromFlags(flags({ meta: ['scenario=42'], payload: 'input.json' }), read);
    expect(runs).toEqual([{ meta: { scenario: '42' }, payload: Buffer.from('{"x": 1}').toString('base64') }]);
  });
  it('makes a run per sweep row with --meta added, and no payload key without --payload', () => {
    const { runs, planned } = runsFromFlags(flags({ sweep: 'params.csv', meta: ['model=v2'] }), read);
    expect(runs).toEqual([
      { meta: { scenario: '1', seed: '7', model: 'v2' } },
      { meta: { scenario: '2', seed: '8', model: 'v2' } },
    ]);
    expect(planned[1].origin).toBe('params.csv row 2 (line 3)');
  });
  it('makes the matrix product', () => {
    expect(runsFromFlags(flags({ matrix: ['scenario=1..50', 'seed=1,2,3'] }), read).runs).toHaveLength(150);
  });
  it('refuses to read stdin twice', () => {
    expect(() => runsFromFlags(flags({ sweep: '-', payload: '-' }), read)).toThrow('cannot both read stdin');
  });
});

describe('explainDispatchError', () => {
  it('turns runs[i] in the server details into the sweep row', () => {
    const { planned } = runsFromFlags(flags({ sweep: 'params.csv' }), read);
    const err = explainDispatchError(
      new BatonApiError(400, 'invalid dispatch', [{ path: 'runs[1].meta.scenario', message: 'must be one of 1' }]),
      planned,
    ) as BatonApiError;
    expect(err).toBeInstanceOf(BatonApiError);
    expect(err.status).toBe(400);
    expect(err.details).toEqual([{ path: 'run 2, from params.csv row 2 (line 3): meta.scenario', message: 'must be one of 1' }]);
    const other = new Error('x');
    expect(explainDispatchError(other, planned)).toBe(other);
  });
});

describe('dispatchedMessage', () => {
  it('names the child of a single run and counts a sweep', () => {
    expect(dispatchedMessage('sim', { sweepId: '3f2a9c1e-0000', jobs: ['sim/dispatch-1'], total: 1 })).toBe('dispatched sim/dispatch-1 (sweep 3f2a9c1e)');
    expect(dispatchedMessage('sim', { sweepId: '3f2a9c1e-0000', jobs: ['a', 'b'], total: 2 })).toBe('dispatched 2 runs of sim (sweep 3f2a9c1e)');
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

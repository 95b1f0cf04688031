import { describe, expect, it } from 'vitest';
import {
  describeRunPath,
  matrixRuns,
  parseCsvSweep,
  parseListSweep,
  parseMatrixFlags,
  parseMatrixValues,
  parseMetaFlags,
  parseSweep,
  planRuns,
} from './sweep.js';

describe('parseMetaFlags', () => {
  it('splits at the first =', () => {
    expect(parseMetaFlags(['a=1', 'url=http://x?y=z'])).toEqual({ a: '1', url: 'http://x?y=z' });
  });
  it('rejects a flag without key, a bad key, and a repeated key', () => {
    expect(() => parseMetaFlags(['=1'])).toThrow('is not key=value');
    expect(() => parseMetaFlags(['novalue'])).toThrow('is not key=value');
    expect(() => parseMetaFlags(['9x=1'])).toThrow('not a valid meta key');
    expect(() => parseMetaFlags(['a=1', 'a=2'])).toThrow('--meta a is given twice');
  });
});

describe('matrix', () => {
  it('expands inclusive ranges, lists and both mixed', () => {
    expect(parseMatrixValues('1..5').toArray()).toEqual(['1', '2', '3', '4', '5']);
    expect(parseMatrixValues('a,b,c').toArray()).toEqual(['a', 'b', 'c']);
    expect(parseMatrixValues('1..3,7,10..11').toArray()).toEqual(['1', '2', '3', '7', '10', '11']);
    expect(parseMatrixValues('-1..1').toArray()).toEqual(['-1', '0', '1']);
    expect(parseMatrixValues('3..3').toArray()).toEqual(['3']);
  });
  it('keeps the zero padding of a range start', () => {
    expect(parseMatrixValues('08..11').toArray()).toEqual(['08', '09', '10', '11']);
  });
  it('rejects descending ranges, empty values, duplicates and non-integer ranges', () => {
    expect(() => parseMatrixValues('5..1')).toThrow('goes down');
    expect(() => parseMatrixValues('1,,2')).toThrow('empty value');
    expect(() => parseMatrixValues('1..3,2')).toThrow('"2" appears twice');
    expect(() => parseMatrixValues('a..c')).toThrow('not a range of integers');
    expect(() => parseMatrixValues('1..10000001')).toThrow('more than 10,000,000 values');
    expect(() => parseMatrixValues('1..99999999999999999999')).toThrow('too large');
  });
  it('finds a repeated value between ranges and lists without listing them', () => {
    expect(() => parseMatrixValues('1..1000000,999999')).toThrow('"999999" appears twice');
    expect(() => parseMatrixValues('1..500000,400000..1000000')).toThrow('"400000" appears twice');
    expect(() => parseMatrixValues('a,b,a')).toThrow('"a" appears twice');
    // padded and plain ranges write small numbers differently, large ones alike
    expect(parseMatrixValues('01..09,1..9').size).toBe(18);
    expect(() => parseMatrixValues('01..20,1..20')).toThrow('"10" appears twice');
    expect(() => parseMatrixValues('05..07,06')).toThrow('"06" appears twice');
    expect(parseMatrixValues('05..07,6').size).toBe(4);
  });
  it('keeps a million-value range as a range, computing each value when asked', () => {
    const v = parseMatrixValues('1..1000000,x,y,2000000..2000001');
    expect(v.size).toBe(1_000_004);
    expect([v.at(0), v.at(999_999), v.at(1_000_000), v.at(1_000_001), v.at(1_000_002), v.at(1_000_003)]).toEqual([
      '1',
      '1000000',
      'x',
      'y',
      '2000000',
      '2000001',
    ]);
  });
  it('parses flags and rejects a key given twice', () => {
    expect(parseMatrixFlags(['scenario=1..2', 'seed=1,2,3']).map((a) => ({ key: a.key, values: a.values.toArray() }))).toEqual([
      { key: 'scenario', values: ['1', '2'] },
      { key: 'seed', values: ['1', '2', '3'] },
    ]);
    expect(() => parseMatrixFlags(['a=1', 'a=2'])).toThrow('given twice');
    expect(() => parseMatrixFlags(['a'])).toThrow('is not key=values');
  });
  it('makes the cartesian product, last axis fastest', () => {
    const runs = [...matrixRuns(parseMatrixFlags(['scenario=1..50', 'seed=1,2,3']))];
    expect(runs).toHaveLength(150);
    expect(runs[0]).toEqual({ meta: { scenario: '1', seed: '1' }, origin: '--matrix scenario=1 seed=1' });
    expect(runs[1].meta).toEqual({ scenario: '1', seed: '2' });
    expect(runs[149].meta).toEqual({ scenario: '50', seed: '3' });
    expect(new Set(runs.map((r) => JSON.stringify(r.meta))).size).toBe(150);
  });
  it('makes a million runs without making them all, and refuses far more', () => {
    const plan = matrixRuns(parseMatrixFlags(['a=1..1000', 'b=1..1000']));
    expect(plan.total).toBe(1_000_000);
    expect(plan.at(999_999)).toEqual({ meta: { a: '1000', b: '1000' }, origin: '--matrix a=1000 b=1000' });
    expect(plan.at(1234).meta).toEqual({ a: '2', b: '235' });
    expect(() => matrixRuns(parseMatrixFlags(['a=1..10000', 'b=1..10000']))).toThrow('--matrix makes 100,000,000 runs or more; at most 10,000,000');
  });
});

describe('CSV sweeps', () => {
  it('makes one run per row with the header as meta keys', () => {
    const runs = parseCsvSweep('scenario,label\n1,"a, b"\n2,"two\nlines"\n3,c\n', 'params.csv');
    expect(runs.map((r) => r.meta)).toEqual([
      { scenario: '1', label: 'a, b' },
      { scenario: '2', label: 'two\nlines' },
      { scenario: '3', label: 'c' },
    ]);
    expect(runs.map((r) => r.origin)).toEqual(['params.csv row 1 (line 2)', 'params.csv row 2 (line 3)', 'params.csv row 3 (line 5)']);
  });
  it('names file, row, line and column in errors', () => {
    expect(() => parseCsvSweep('a,b\n1,2\n3\n', 'p.csv')).toThrow('p.csv row 2 (line 3): 1 fields, but the header has 2 columns (a,b)');
    expect(() => parseCsvSweep('a,,c\n1,2,3\n', 'p.csv')).toThrow('p.csv line 1, column 2: empty column name');
    expect(() => parseCsvSweep('a,a\n1,2\n', 'p.csv')).toThrow('p.csv line 1, column 2: column "a" appears twice');
    expect(() => parseCsvSweep('a,b c\n1,2\n', 'p.csv')).toThrow('p.csv line 1, column 2: "b c" is not a valid meta key');
    expect(() => parseCsvSweep('a\n"x\n', 'p.csv')).toThrow('p.csv line 2, column 1: a quoted field is never closed');
    expect(() => parseCsvSweep('', 'p.csv')).toThrow('p.csv is empty');
    expect(() => parseCsvSweep('a,b\n', 'p.csv')).toThrow('no rows');
  });
});

describe('YAML and JSON sweeps', () => {
  it('reads a YAML list of objects, keeping values as written', () => {
    const runs = parseSweep('- scenario: 1\n  ratio: 1.10\n  fast: true\n- {scenario: 2, ratio: "0.5", fast: false}\n', 'runs.yaml');
    expect(runs.map((r) => r.meta)).toEqual([
      { scenario: '1', ratio: '1.10', fast: 'true' },
      { scenario: '2', ratio: '0.5', fast: 'false' },
    ]);
    expect(runs[1].origin).toBe('runs.yaml item 2 (line 4)');
  });
  it('reads JSON', () => {
    expect(parseSweep('[{"a": 1}, {"a": "x"}]', 'runs.json').map((r) => r.meta)).toEqual([{ a: '1' }, { a: 'x' }]);
  });
  it('names the item and line of a bad value, and rejects non-lists', () => {
    expect(() => parseListSweep('- a: 1\n- a:\n    nested: 1\n', 'r.yaml')).toThrow('r.yaml item 2 (line 3): "a" must be a string, number or boolean');
    expect(() => parseListSweep('- a: 1\n- 7\n', 'r.yaml')).toThrow('r.yaml item 2 (line 2): is not an object');
    expect(() => parseListSweep('a: 1\n', 'r.yaml')).toThrow('must be a list of objects');
    expect(() => parseListSweep('[]', 'r.json')).toThrow('empty list');
    expect(() => parseListSweep('[{"a": 1}', 'r.json')).toThrow(/^r\.json: /);
  });
  it('rejects unknown extensions', () => {
    expect(() => parseSweep('', 'runs.txt')).toThrow('use .csv, .yaml, .yml or .json');
  });
});

describe('planRuns', () => {
  it('gives one run of --meta alone when there is no sweep or matrix', () => {
    expect([...planRuns({ meta: { a: '1' } })]).toEqual([{ meta: { a: '1' }, origin: '--meta' }]);
    expect([...planRuns({ meta: {} })]).toEqual([{ meta: {}, origin: '--meta' }]);
  });
  it('adds --meta to every row of a matrix or sweep', () => {
    const runs = [...planRuns({ meta: { model: 'v2' }, matrix: parseMatrixFlags(['s=1..3']) })];
    expect(runs.map((r) => r.meta)).toEqual([
      { s: '1', model: 'v2' },
      { s: '2', model: 'v2' },
      { s: '3', model: 'v2' },
    ]);
  });
  it('crosses sweep rows with the matrix', () => {
    const sweep = parseCsvSweep('scenario\n1\n2\n', 'p.csv');
    const runs = [...planRuns({ meta: {}, sweep, matrix: parseMatrixFlags(['seed=1,2']) })];
    expect(runs.map((r) => r.meta)).toEqual([
      { scenario: '1', seed: '1' },
      { scenario: '1', seed: '2' },
      { scenario: '2', seed: '1' },
      { scenario: '2', seed: '2' },
    ]);
    expect(runs[3].origin).toBe('p.csv row 2 (line 3), --matrix seed=2');
  });
  it('refuses a key set in two places', () => {
    const sweep = parseCsvSweep('seed\n1\n', 'p.csv');
    expect(() => planRuns({ meta: { seed: '9' }, sweep })).toThrow('p.csv row 1 (line 2): meta key "seed" is also set by --meta');
    expect(() => planRuns({ meta: {}, sweep, matrix: parseMatrixFlags(['seed=1']) })).toThrow('p.csv row 1 (line 2): meta key "seed" is also set by --matrix');
    expect(() => planRuns({ meta: { s: '1' }, matrix: parseMatrixFlags(['s=1,2']) })).toThrow('--matrix s: meta key "s" is also set by --meta');
  });
});

describe('describeRunPath', () => {
  it('turns a run index from the server into where that run came from', () => {
    const runs = planRuns({ meta: {}, sweep: parseCsvSweep('scenario\n1\n2\n', 'p.csv') });
    expect(describeRunPath('runs[1].meta.scenario', runs)).toBe('run 2, from p.csv row 2 (line 3): meta.scenario');
    expect(describeRunPath('runs[0]', runs)).toBe('run 1, from p.csv row 1 (line 2)');
    expect(describeRunPath('runs[5].meta', runs)).toBe('runs[5].meta');
    expect(describeRunPath('meta', runs)).toBe('meta');
  });
  it('counts from the offset of a later part', () => {
    const plan = matrixRuns(parseMatrixFlags(['i=1..25000']));
    expect(describeRunPath('runs[3].meta.i', plan, 20_000)).toBe('run 20,004, from --matrix i=20004: meta.i');
  });
});

import { describe, expect, it } from 'vitest';
import { CsvError, parseCsv } from './csv.js';

const fields = (text: string) => parseCsv(text).map((r) => r.fields);

describe('parseCsv', () => {
  it('splits records on LF and CRLF and fields on commas', () => {
    expect(fields('a,b\n1,2\r\n3,4')).toEqual([
      ['a', 'b'],
      ['1', '2'],
      ['3', '4'],
    ]);
  });

  it('keeps commas, newlines and doubled quotes inside quoted fields, and the line each record starts on', () => {
    const recs = parseCsv('name,note\n"x, y","line1\nline2"\n"say ""hi""",z\n');
    expect(recs.map((r) => r.fields)).toEqual([
      ['name', 'note'],
      ['x, y', 'line1\nline2'],
      ['say "hi"', 'z'],
    ]);
    expect(recs.map((r) => r.line)).toEqual([1, 2, 4]);
  });

  it('trims unquoted fields but keeps quoted ones exactly', () => {
    expect(fields('a , b\n 1 ," 2 "')).toEqual([
      ['a', 'b'],
      ['1', ' 2 '],
    ]);
  });

  it('keeps empty fields, skips blank lines, and drops a leading BOM', () => {
    expect(fields('\uFEFFa,b\n\n1,\n,2\n\n')).toEqual([
      ['a', 'b'],
      ['1', ''],
      ['', '2'],
    ]);
    expect(fields('"",x')).toEqual([['', 'x']]);
  });

  it('reports an unclosed quote at the line and column where it opened', () => {
    const err = (() => {
      try {
        parseCsv('a,b\n1,"open\nmore');
      } catch (e) {
        return e as CsvError;
      }
    })();
    expect(err).toBeInstanceOf(CsvError);
    expect(err).toMatchObject({ line: 2, column: 2 });
    expect(err?.message).toMatch(/never closed/);
  });

  it('rejects text after a closing quote, naming line and column', () => {
    expect(() => parseCsv('a,b\n1,"x"y')).toThrow('line 2, column 2: unexpected text after a closing quote');
  });
});

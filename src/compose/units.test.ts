import { describe, expect, it } from 'vitest';
import { formatBytesExact, formatMs, interpolate, parseComposeBytes, parseComposeCpus, parseComposeDuration, parseEnvFile, splitCommand } from './units.js';

describe('compose units', () => {
  it.each([
    ['10s', 10_000],
    ['1m30s', 90_000],
    ['500ms', 500],
    ['2h', 7_200_000],
    ['1.5s', 1500],
    ['1000us', 1],
    [30, 30_000],
    ['30', 30_000],
  ])('duration %s → %d ms', (input, ms) => expect(parseComposeDuration(input)).toBe(ms));

  it('refuses text that is not a duration', () => {
    expect(() => parseComposeDuration('soon')).toThrow(/not a duration/);
    expect(() => parseComposeDuration('10 s')).toThrow(/not a duration/);
  });

  it.each([
    [90_000, '1m30s'],
    [250, '250ms'],
    [3_600_000, '1h'],
    [0, '0s'],
    [1500, '1500ms'],
  ])('formatMs %d → %s', (ms, text) => expect(formatMs(ms)).toBe(text));

  it.each([
    ['512m', 512 * 1024 ** 2],
    ['1g', 1024 ** 3],
    ['50M', 50 * 1024 ** 2],
    ['2gb', 2 * 1024 ** 3],
    ['1024k', 1024 ** 2],
    ['100', 100],
    [4096, 4096],
    ['1GiB', 1024 ** 3],
  ])('size %s → %d bytes (powers of 1024, as docker)', (input, bytes) => expect(parseComposeBytes(input)).toBe(bytes));

  it('formats sizes exactly', () => {
    expect(formatBytesExact(512 * 1024 ** 2)).toBe('512Mi');
    expect(formatBytesExact(1536 * 1024 ** 2)).toBe('1536Mi');
    expect(formatBytesExact(1000)).toBe(1000);
  });

  it('reads cpus', () => {
    expect(parseComposeCpus('0.5')).toBe(500);
    expect(parseComposeCpus(2)).toBe(2000);
    expect(() => parseComposeCpus('half')).toThrow(/cores/);
  });

  it('splits a command like a shell without running one', () => {
    expect(splitCommand(`sh -c "echo \\"hi\\" && exit 1" 'a b' c\\ d ''`)).toEqual(['sh', '-c', 'echo "hi" && exit 1', 'a b', 'c d', '']);
    expect(() => splitCommand('echo "open')).toThrow(/unterminated/);
  });

  it('interpolates like compose', () => {
    const env = { A: 'a', EMPTY: '' };
    expect(interpolate('$A ${A} ${A:-x} ${EMPTY:-x} ${EMPTY-x} ${NO-x} ${A:+y} ${NO:+y} $$A ${NO:-${A}}', env)).toEqual({
      value: 'a a a x  x y  $A a',
      unset: [],
    });
    expect(interpolate('x${NO}y $NO2', env)).toEqual({ value: 'xy ', unset: ['NO', 'NO2'] });
    expect(() => interpolate('${EMPTY:?needed}', env)).toThrow('required variable EMPTY is empty: needed');
    expect(interpolate('${EMPTY?needed}', env).value).toBe('');
    expect(() => interpolate('${A', env)).toThrow(/unclosed/);
    expect(interpolate('cost: 5$', env).value).toBe('cost: 5$');
  });

  it('reads env files', () => {
    const r = parseEnvFile('# c\nA=1\nexport B = two \nC="x\\ny"\nD=\'$lit\'\nE=v # comment\nSHELL_ONLY\nbad line\n', (n) =>
      n === 'SHELL_ONLY' ? 's' : undefined,
    );
    expect(r.env).toEqual({ A: '1', B: 'two', C: 'x\ny', D: '$lit', E: 'v', SHELL_ONLY: 's' });
    expect(r.errors).toEqual([{ line: 8, message: '"bad line" is not KEY=value' }]);
  });
});

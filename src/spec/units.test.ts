import { describe, expect, it } from 'vitest';
import { formatBytes, formatCpu, formatDuration, parseCpu, parseDuration, parseMemory, UnitError } from './units.js';

describe('units', () => {
  it('parses memory with binary and decimal units', () => {
    expect(parseMemory('512Mi')).toBe(512 * 1024 ** 2);
    expect(parseMemory('1.2Gi')).toBe(Math.round(1.2 * 1024 ** 3));
    expect(parseMemory('2G')).toBe(2e9);
    expect(parseMemory(1024)).toBe(1024);
    expect(() => parseMemory('12 gigs')).toThrow(UnitError);
    expect(() => parseMemory(-1)).toThrow(/512Mi/);
  });
  it('parses cpu as cores or millicores', () => {
    expect(parseCpu('0.5')).toBe(500);
    expect(parseCpu(2)).toBe(2000);
    expect(parseCpu('250m')).toBe(250);
    expect(() => parseCpu('two')).toThrow(/millicores/);
  });
  it('parses durations', () => {
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('3000')).toBe(3000);
    expect(() => parseDuration('soon')).toThrow(/30s/);
  });
  it('formats for people', () => {
    expect(formatBytes(20 * 1024 ** 3)).toBe('20 GiB');
    expect(formatBytes(1.5 * 1024 ** 3)).toBe('1.5 GiB');
    expect(formatCpu(500)).toBe('500m');
    expect(formatCpu(2000)).toBe('2 cores');
    expect(formatDuration(200_000)).toBe('3m20s');
  });
});

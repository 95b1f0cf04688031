import { describe, expect, it } from 'vitest';
import { BatonApiError } from '../client/http.js';
import {
  age,
  escapeControl,
  bytesUsage,
  cpuUsage,
  formatAllocCounts,
  formatError,
  formatMap,
  formatCount,
  formatResources,
  naturalCompare,
  renderFields,
  renderTable,
  shortId,
} from './output.js';

describe('renderTable', () => {
  it('aligns columns under their headers without borders or colour codes', () => {
    const text = renderTable(
      ['ID', 'STATUS'],
      [
        ['a', 'running'],
        ['longer-id', 'failed'],
      ],
    );
    const lines = text.split('\n');
    expect(lines).toHaveLength(3);
    expect(text).not.toMatch(/[│─┌└\u001b]/);
    const col = lines[0].indexOf('STATUS');
    expect(col).toBeGreaterThan('longer-id'.length);
    expect(lines[1].indexOf('running')).toBe(col);
    expect(lines[2].indexOf('failed')).toBe(col);
    expect(lines[0].startsWith('ID')).toBe(true);
    for (const l of lines) expect(l).toBe(l.trimEnd());
  });

  it('prints numbers and empty cells', () => {
    const lines = renderTable(['A', 'B', 'C'], [[1, '', 'x']]).split('\n');
    expect(lines[1].startsWith('1')).toBe(true);
    expect(lines[1].indexOf('x')).toBe(lines[0].indexOf('C'));
  });
});

describe('renderFields', () => {
  it('aligns values after the longest key', () => {
    expect(
      renderFields([
        ['ID', 'x'],
        ['Priority', 50],
      ]),
    ).toBe('ID        x\nPriority  50');
  });
});

describe('age', () => {
  const now = Date.parse('2025-01-01T12:00:00Z');
  it('uses the largest whole unit', () => {
    expect(age('2025-01-01T11:59:48Z', now)).toBe('12s');
    expect(age('2025-01-01T11:57:00Z', now)).toBe('3m');
    expect(age('2025-01-01T11:56:01Z', now)).toBe('3m');
    expect(age('2025-01-01T07:00:00Z', now)).toBe('5h');
    expect(age('2024-12-30T12:00:00Z', now)).toBe('2d');
  });
  it('shows a time slightly in the future (clock skew) as 0s and nonsense as -', () => {
    expect(age('2025-01-01T12:00:05Z', now)).toBe('0s');
    expect(age('yesterday', now)).toBe('-');
    expect(age(undefined, now)).toBe('-');
  });
});

describe('short forms', () => {
  it('shortId keeps the first 8 characters', () => {
    expect(shortId('3f2a9c1e-0000-4000-8000-000000000000')).toBe('3f2a9c1e');
    expect(shortId('')).toBe('-');
  });
  it('formats resources with the units module', () => {
    expect(formatResources({ cpu: 500, memory: 512 * 1024 ** 2, disk: 0 })).toBe('cpu 500m, memory 512 MiB');
    expect(formatResources({ cpu: 2000, memory: 20 * 1024 ** 3, disk: 1024 ** 3 })).toBe('cpu 2 cores, memory 20 GiB, disk 1 GiB');
    expect(formatResources({ cpu: 250, cpuLimit: 1500, memory: 1024 ** 3, disk: 0 })).toBe('cpu 250m (limit 1.5 cores), memory 1 GiB');
    expect(cpuUsage(1500, 4000)).toBe('1.5 cores / 4 cores');
    expect(bytesUsage(1024 ** 3, 8 * 1024 ** 3)).toBe('1 GiB / 8 GiB');
  });
  it('alloc counts show only what is non-zero, in lifecycle order', () => {
    expect(formatAllocCounts({ pending: 1, running: 2, complete: 0, failed: 3, lost: 0 })).toBe('1 pending, 2 running, 3 failed');
    expect(formatAllocCounts({ pending: 0, running: 0, complete: 0, failed: 0, lost: 0 })).toBe('-');
  });
  it('maps read as k=v', () => {
    expect(formatMap({ zone: 'a', rack: '2' })).toBe('zone=a, rack=2');
    expect(formatMap({})).toBe('-');
  });
});

describe('formatError', () => {
  it('prints an API error with each detail, its path and line', () => {
    const err = new BatonApiError(400, 'job.yaml is not a valid job', [
      { path: 'tasks[0].resources.memory', message: '"lots" is not a size', line: 7 },
      { path: 'count', message: 'must be at least 1' },
    ]);
    expect(formatError(err)).toEqual([
      'Error: job.yaml is not a valid job',
      '  tasks[0].resources.memory (line 7): "lots" is not a size',
      '  count: must be at least 1',
    ]);
  });
  it('does not repeat the first detail that the headline quotes', () => {
    const detail = { path: 'tasks[0].resources.memory', message: '"1Xi" is not a size', line: 7 };
    const err = new BatonApiError(400, `job.yaml has 2 errors: ${detail.path}: ${detail.message} (line 7)`, [
      detail,
      { path: 'count', message: 'must be at least 1' },
    ]);
    expect(formatError(err)).toEqual([
      'Error: job.yaml has 2 errors:',
      '  tasks[0].resources.memory (line 7): "1Xi" is not a size',
      '  count: must be at least 1',
    ]);
  });
  it('prints other errors by message', () => {
    expect(formatError(new Error('boom'))).toEqual(['Error: boom']);
    expect(formatError('plain')).toEqual(['Error: plain']);
  });
});

describe('naturalCompare and formatCount', () => {
  it('sorts the numbers in names as numbers', () => {
    expect(['sim[10]', 'sim[2]', 'sim[1]', 'a/x-100', 'a/x-20'].sort(naturalCompare)).toEqual(['a/x-20', 'a/x-100', 'sim[1]', 'sim[2]', 'sim[10]']);
  });
  it('groups digits', () => {
    expect(formatCount(1_000_000)).toBe('1,000,000');
    expect(formatCount(999)).toBe('999');
  });
});

describe('escapeControl', () => {
  it('shows escape sequences, NUL and C1 controls as \\xNN in tables and fields, never raw', () => {
    const evil = 'node-\u001b[2J\u001b]0;owned\u0007\u0000\u009b';
    const table = renderTable(['NAME'], [[evil]]);
    expect(table).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(table).toContain('node-\\x1b[2J\\x1b]0;owned\\x07\\x00\\x9b');
    const fields = renderFields([['Name', evil]]);
    expect(fields).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(escapeControl('a\nb\tc')).toBe('a b c');
    expect(escapeControl('a\nb', true)).toBe('a\nb');
  });
});

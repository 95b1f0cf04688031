import { describe, expect, it } from 'vitest';
import { checkOlderThan, renderGc } from './system.js';

describe('baton system gc', () => {
  const res = { before: '2026-12-01T22:00:00.000Z', jobs: 12, runs: 1_000_000, allocs: 3400, evals: 40, deployments: 0, logChunks: 9000, durationMs: 1500 };
  it('prints what was removed, with grouped digits', () => {
    expect(renderGc(res)).toEqual([
      'removed what finished before 2026-12-01T22:00:00.000Z (2s):',
      '  jobs         12',
      '  runs         1,000,000',
      '  allocs       3,400',
      '  evals        40',
      '  deployments  0',
      '  log chunks   9,000',
    ]);
  });
  it('says when nothing was old enough', () => {
    expect(renderGc({ ...res, jobs: 0, runs: 0, allocs: 0, evals: 0, logChunks: 0, durationMs: 3 })).toEqual([
      'nothing had finished before 2026-12-01T22:00:00.000Z: nothing removed (3ms)',
    ]);
  });
  it('checks --older-than before asking the server', () => {
    expect(checkOlderThan(' 0s ')).toBe('0s');
    expect(checkOlderThan('7d')).toBe('7d');
    expect(() => checkOlderThan('a week')).toThrow('--older-than "a week" is not a duration: write it like 0s');
  });
});

import { describe, expect, it } from 'vitest';
import { CliError } from '../output.js';
import { checkTtl, tokenRows } from './token.js';

describe('baton token', () => {
  it('names a bad --ttl before anything is made', () => {
    expect(checkTtl(' 30d ')).toBe('30d');
    expect(() => checkTtl('forever')).toThrow(CliError);
    expect(() => checkTtl('0s')).toThrow(/not a duration/);
  });

  it('lists expiry as never, a time to go, or expired', () => {
    const now = Date.parse('2026-01-10T00:00:00Z');
    const base = { role: 'read' as const, namespace: 'a', createdAt: '2026-01-09T00:00:00Z' };
    const rows = tokenRows(
      [
        { id: 'aaaaaaaa-1', name: 'n1', ...base },
        { id: 'bbbbbbbb-2', name: 'n2', ...base, expiresAt: '2026-01-12T00:00:00Z' },
        { id: 'cccccccc-3', name: 'n3', ...base, expiresAt: '2026-01-01T00:00:00Z' },
      ],
      now,
    );
    expect(rows.map((r) => r[5])).toEqual(['never', 'in 2d', 'expired']);
    expect(rows[0]).toEqual(['aaaaaaaa', 'n1', 'read', 'a', '24h ago', 'never']);
  });
});

import { describe, expect, it } from 'vitest';
import { splitTimestamp, timestampAfter, timestampToSince } from './timestamps.js';

describe('docker log timestamps', () => {
  it('compares trimmed fractions as numbers, not strings', () => {
    // docker trims trailing zeros: .5 is later than .123456789 though it sorts first as text
    expect(timestampAfter('2024-05-01T10:00:00.5Z', '2024-05-01T10:00:00.123456789Z')).toBe(true);
    expect(timestampAfter('2024-05-01T10:00:00.123456789Z', '2024-05-01T10:00:00.5Z')).toBe(false);
    expect(timestampAfter('2024-05-01T10:00:00.5Z', '2024-05-01T10:00:00.500000000Z')).toBe(false);
    expect(timestampAfter('2024-05-01T10:00:01Z', '2024-05-01T10:00:00.999999999Z')).toBe(true);
  });

  it('turns a cursor into docker since seconds', () => {
    expect(timestampToSince('1970-01-01T00:00:10.05Z')).toBe('10.050000000');
    expect(timestampToSince('2024-05-01T10:00:00Z')).toBe(`${Date.parse('2024-05-01T10:00:00Z') / 1000}.000000000`);
  });

  it('splits the timestamp prefix off a frame and keeps the data intact', () => {
    const r = splitTimestamp(Buffer.from('2024-05-01T10:00:00.123Z hello world\n'));
    expect(r.timestamp).toBe('2024-05-01T10:00:00.123Z');
    expect(r.data.toString()).toBe('hello world\n');
    expect(splitTimestamp(Buffer.from('no stamp here')).timestamp).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { SignInLimiter } from './sign-in-limit.js';

describe('SignInLimiter', () => {
  it('limits a source after max failures until its window ends, other sources untouched', () => {
    const l = new SignInLimiter({ max: 3, windowMs: 1000, maxSources: 100 });
    for (let i = 0; i < 3; i++) {
      expect(l.retryAfterMs('a', 100)).toBe(0);
      l.fail('a', 100);
    }
    expect(l.retryAfterMs('a', 500)).toBe(600);
    expect(l.retryAfterMs('b', 500)).toBe(0);
    expect(l.retryAfterMs('a', 1100)).toBe(0);
    // a new window starts from nothing
    l.fail('a', 1200);
    expect(l.retryAfterMs('a', 1200)).toBe(0);
  });

  it('remembers at most maxSources sources', () => {
    const l = new SignInLimiter({ max: 1, windowMs: 1000, maxSources: 10 });
    for (let i = 0; i < 100; i++) l.fail(`s${i}`, 0);
    expect(l.retryAfterMs('s0', 1)).toBe(0);
    expect(l.retryAfterMs('s99', 1)).toBeGreaterThan(0);
  });
});

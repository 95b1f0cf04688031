import { describe, expect, it } from 'vitest';
import { createProgressDisplay, createStatusLine, type Stream } from './progress-display.js';

function stream(isTTY: boolean): Stream & { out: string[] } {
  const out: string[] = [];
  return { isTTY, columns: 200, out, write: (s: string) => out.push(s) };
}
const c = (complete: number, failed = 0) => ({ total: 4, queued: 4 - complete - failed, running: 0, complete, failed });

describe('createProgressDisplay, not a terminal', () => {
  it('prints one plain line per change and messages as lines', () => {
    const s = stream(false);
    const d = createProgressDisplay('sweep x', s, () => 0);
    d.update(c(0));
    d.update(c(0));
    d.log('server restarted');
    d.update(c(1));
    d.finish();
    expect(s.out.join('')).toBe(
      'sweep x: 4 queued, 0 running, 0 complete, 0 failed (0/4 done)\n' +
        'server restarted\n' +
        'sweep x: 3 queued, 0 running, 1 complete, 0 failed (1/4 done)\n',
    );
    expect(s.out.join('')).not.toContain('\u001b');
  });
});

describe('createProgressDisplay, on a terminal', () => {
  it('redraws one line in place, prints messages above it, and ends it with a newline', () => {
    const s = stream(true);
    const d = createProgressDisplay('sweep x', s, () => 0);
    d.update(c(1));
    d.update(c(2));
    d.log('a message');
    d.finish();
    d.log('after the end');
    const text = s.out.join('');
    // every draw starts with CR + erase line, so the bar never stacks up
    expect(text.split('\r\u001b[2K').filter(Boolean)[0]).toMatch(/^sweep x \[.*\] 25% 1\/4/);
    expect(text).toContain('\r\u001b[2Ka message\n');
    const lines = text.split('\n');
    expect(lines.at(-2)).toBe('after the end');
    expect(lines.at(-3)).toMatch(/50% 2\/4/);
    expect(text.endsWith('after the end\n')).toBe(true);
  });
});

describe('createStatusLine', () => {
  it('redraws in place on a terminal, prints messages above, and clears itself', () => {
    const s = stream(true);
    const line = createStatusLine(s);
    line.update('stored 10,000 of 25,000 runs');
    line.log('retrying');
    line.update('stored 20,000 of 25,000 runs');
    line.clear();
    expect(s.out.join('')).toBe('\r\u001b[2Kstored 10,000 of 25,000 runs\r\u001b[2Kretrying\n\r\u001b[2Kstored 20,000 of 25,000 runs\r\u001b[2K');
  });
  it('draws nothing but the messages elsewhere', () => {
    const s = stream(false);
    const line = createStatusLine(s);
    line.update('stored 1 of 2 runs');
    line.log('retrying');
    line.clear();
    expect(s.out.join('')).toBe('retrying\n');
  });
});

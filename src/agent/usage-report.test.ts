import { describe, expect, it } from 'vitest';
import { buildUsageReport, cpuMillicores } from './usage-report.js';

describe('usage report', () => {
  it('turns cumulative cpu time into millicores between samples', () => {
    // 1 s of cpu in 2 s of wall time: half a core
    expect(cpuMillicores({ at: 0, cpuNanos: 0 }, { at: 2000, cpuNanos: 1e9 })).toBe(500);
    expect(cpuMillicores(undefined, { at: 2000, cpuNanos: 1e9 })).toBeUndefined();
    // a counter that went back (a new run) says nothing about the rate
    expect(cpuMillicores({ at: 0, cpuNanos: 5e9 }, { at: 1000, cpuNanos: 1e9 })).toBeUndefined();
  });

  it('sums the running tasks into the node total and leaves idle allocs out', () => {
    const r = buildUsageReport([
      { id: 'a1', usage: () => ({ web: { cpu: 100, memory: 10 }, log: { cpu: 5, memory: 1 } }) },
      { id: 'a2', usage: () => ({}) },
    ]);
    expect(r).toEqual({ node: { cpu: 105, memory: 11 }, allocs: { a1: { web: { cpu: 100, memory: 10 }, log: { cpu: 5, memory: 1 } } } });
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cgroups, cpuShares, cpuWeight } from './cgroups.js';

// A plain directory stands in for the cgroup filesystem: this checks which files
// get which values; the real kernel is exercised by exec.test.ts.
const roots: string[] = [];
function fakeRoot(): string {
  const r = mkdtempSync(join(tmpdir(), 'baton-cg-'));
  roots.push(r);
  return r;
}
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

describe('Cgroups', () => {
  it('converts a cpu request to v1 shares (1024 a core, 2 at least) and those to v2 weights as systemd does', () => {
    expect(cpuShares(100)).toBe(102);
    expect(cpuShares(1000)).toBe(1024);
    expect(cpuShares(0)).toBe(2);
    expect(cpuShares(1)).toBe(2);
    expect(cpuShares(1_000_000)).toBe(262_144);
    expect(cpuWeight(2)).toBe(1);
    expect(cpuWeight(102)).toBe(4);
    expect(cpuWeight(1024)).toBe(39);
    expect(cpuWeight(262_144)).toBe(10_000);
    // more shares never mean less weight
    for (let s = 2; s < 262_144; s += 997) expect(cpuWeight(s + 997)).toBeGreaterThanOrEqual(cpuWeight(s));
  });

  it('v2: writes memory.max, swap 0, the cpu request as cpu.weight and no cap under baton/<node>', () => {
    const root = fakeRoot();
    writeFileSync(join(root, 'cgroup.controllers'), 'cpu memory');
    mkdirSync(join(root, 'baton'));
    writeFileSync(join(root, 'baton', 'cgroup.controllers'), 'cpu memory');
    const cg = new Cgroups(root);
    expect(cg.version).toBe('v2');
    const t = cg.create('n1', 'a-main', { cpu: 1500, memory: 64 << 20, disk: 0 })!;
    expect(t.memory).toBe(join(root, 'baton', 'n1', 'a-main'));
    expect(readFileSync(join(t.memory, 'memory.max'), 'utf8')).toBe(String(64 << 20));
    expect(readFileSync(join(t.memory, 'memory.swap.max'), 'utf8')).toBe('0');
    expect(readFileSync(join(t.memory, 'cpu.weight'), 'utf8')).toBe(String(cpuWeight(1536)));
    expect(readFileSync(join(t.memory, 'cpu.max'), 'utf8')).toBe('max 100000');
    expect(Cgroups.procsFiles(t)).toEqual([join(t.memory, 'cgroup.procs')]);
  });

  it('v2: a cpu limit is a cpu.max quota; the offered capacity weights baton/ and baton/<node>', async () => {
    const root = fakeRoot();
    writeFileSync(join(root, 'cgroup.controllers'), 'cpu memory');
    mkdirSync(join(root, 'baton'));
    writeFileSync(join(root, 'baton', 'cgroup.controllers'), 'cpu memory');
    const cg = new Cgroups(root);
    cg.offer(8000);
    const planned = cg.plan('n1', 'a-main', { cpu: 100, cpuLimit: 2500, memory: 0, disk: 0 })!;
    Cgroups.apply(planned.steps);
    const t = planned.cgroup;
    expect(readFileSync(join(t.memory, 'cpu.weight'), 'utf8')).toBe('4');
    expect(readFileSync(join(t.memory, 'cpu.max'), 'utf8')).toBe('250000 100000');
    // 8 cores: 8192 shares
    expect(readFileSync(join(root, 'baton', 'cpu.weight'), 'utf8')).toBe(String(cpuWeight(8192)));
    expect(readFileSync(join(root, 'baton', 'n1', 'cpu.weight'), 'utf8')).toBe(String(cpuWeight(8192)));
    // a later offer (the capacity known again) rewrites both
    cg.offer(2000);
    expect(readFileSync(join(root, 'baton', 'n1', 'cpu.weight'), 'utf8')).toBe(String(cpuWeight(2048)));
  });

  it('v2: reports oom kills from memory.events and the peak', () => {
    const root = fakeRoot();
    writeFileSync(join(root, 'cgroup.controllers'), 'cpu memory');
    mkdirSync(join(root, 'baton'));
    writeFileSync(join(root, 'baton', 'cgroup.controllers'), 'cpu memory');
    const t = new Cgroups(root).create('n1', 'a-main', { cpu: 0, memory: 0, disk: 0 })!;
    writeFileSync(join(t.memory, 'memory.events'), 'low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n');
    writeFileSync(join(t.memory, 'memory.current'), '1000\n');
    writeFileSync(join(t.memory, 'memory.peak'), '33554432\n');
    expect(Cgroups.stats(t)).toMatchObject({ oomKills: 1, memory: 1000, peakMemory: 33554432 });
  });

  it('v1: limits in the memory and cpu,cpuacct hierarchies', () => {
    const root = fakeRoot();
    mkdirSync(join(root, 'memory'));
    mkdirSync(join(root, 'cpu,cpuacct'));
    const cg = new Cgroups(root);
    expect(cg.version).toBe('v1');
    const t = cg.create('n1', 'a-main', { cpu: 500, memory: 32 << 20, disk: 0 })!;
    expect(readFileSync(join(t.memory, 'memory.limit_in_bytes'), 'utf8')).toBe(String(32 << 20));
    expect(t.cpu).toBe(join(root, 'cpu,cpuacct', 'baton', 'n1', 'a-main'));
    // the request is a weight, without a cap
    expect(readFileSync(join(t.cpu!, 'cpu.shares'), 'utf8')).toBe('512');
    expect(readFileSync(join(t.cpu!, 'cpu.cfs_quota_us'), 'utf8')).toBe('-1');
    const capped = cg.create('n1', 'b-main', { cpu: 100, cpuLimit: 1500, memory: 32 << 20, disk: 0 })!;
    expect(readFileSync(join(capped.cpu!, 'cpu.shares'), 'utf8')).toBe('102');
    expect(readFileSync(join(capped.cpu!, 'cpu.cfs_period_us'), 'utf8')).toBe('100000');
    expect(readFileSync(join(capped.cpu!, 'cpu.cfs_quota_us'), 'utf8')).toBe('150000');
    cg.offer(4000);
    expect(readFileSync(join(root, 'cpu,cpuacct', 'baton', 'cpu.shares'), 'utf8')).toBe('4096');
    expect(readFileSync(join(root, 'cpu,cpuacct', 'baton', 'n1', 'cpu.shares'), 'utf8')).toBe('4096');
    writeFileSync(join(t.memory, 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
    expect(Cgroups.stats(t).oomKills).toBe(2);
    expect(
      cg
        .list('n1')
        .map((x) => x.memory)
        .sort(),
    ).toEqual([t.memory, capped.memory].sort());
  });

  it('v1: joins cpuacct when it is mounted apart from cpu, and reads the cpu time there', () => {
    const root = fakeRoot();
    mkdirSync(join(root, 'memory'));
    mkdirSync(join(root, 'cpu'));
    mkdirSync(join(root, 'cpuacct'));
    const cg = new Cgroups(root);
    const t = cg.create('n1', 'a-main', { cpu: 500, memory: 32 << 20, disk: 0 })!;
    expect(t.cpuacct).toBe(join(root, 'cpuacct', 'baton', 'n1', 'a-main'));
    expect(Cgroups.procsFiles(t)).toEqual([t.memory, t.cpu!, t.cpuacct!].map((d) => join(d, 'cgroup.procs')));
    writeFileSync(join(t.cpuacct!, 'cpuacct.usage'), '123456789\n');
    expect(Cgroups.stats(t).cpuNanos).toBe(123456789);
    expect(cg.list('n1')[0].cpuacct).toBe(t.cpuacct);
  });

  it('v2 without the memory controller delegated is none, with the reason', () => {
    const root = fakeRoot();
    writeFileSync(join(root, 'cgroup.controllers'), 'cpu memory');
    const cg = new Cgroups(root);
    expect(cg.version).toBe('none');
    expect(cg.reason).toMatch(/memory controller not delegated/);
  });

  it('none when there is no hierarchy', () => {
    const cg = new Cgroups(join(fakeRoot(), 'missing'));
    expect(cg.version).toBe('none');
    expect(cg.create('n', 'x', { cpu: 1, memory: 1, disk: 0 })).toBeUndefined();
  });
});

import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NodeBound } from '../jobs/disconnect.js';
import { buildLease, LeaseWriter, leasePath, processStart, readLease, takeOverLease, writeLease, type AgentLease, type LeaseSource } from './lease.js';

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'baton-lease-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const bound: NodeBound = { ttlMs: 6000, stopAfterMs: 4000 };

function runner(id: string, deadline: { stopAfterMs: number; killAfterMs: number } | undefined, tasks: string[]): LeaseSource {
  return {
    id,
    disconnectDeadline: () => deadline,
    liveTasks: () =>
      tasks.map((name) => ({ taskName: name, driver: 'exec', handle: { driver: 'exec', id: `${id}-${name}`, data: { pgid: 1 } }, killSignal: 'SIGINT' })),
  };
}

describe('lease', () => {
  it('names this process by pid and start time, with the live tasks of allocs that have a deadline', () => {
    const l = buildLease({
      contactAt: 1234,
      bound,
      runners: [
        runner('a1', { stopAfterMs: 4000, killAfterMs: 5400 }, ['web', 'side']),
        runner('a2', undefined, ['keep']),
        runner('a3', { stopAfterMs: 1000, killAfterMs: 2000 }, []),
      ],
    });
    expect(l.version).toBe(1);
    expect(l.agentPid).toBe(process.pid);
    expect(l.agentStart).toBe(processStart(process.pid));
    expect(l.agentStart).toMatch(/^\d+$/);
    expect(l.contactAt).toBe(1234);
    expect(l.tasks).toEqual([
      {
        allocId: 'a1',
        taskName: 'web',
        driver: 'exec',
        handle: { driver: 'exec', id: 'a1-web', data: { pgid: 1 } },
        stopAfterMs: 4000,
        killAfterMs: 5400,
        killSignal: 'SIGINT',
      },
      {
        allocId: 'a1',
        taskName: 'side',
        driver: 'exec',
        handle: { driver: 'exec', id: 'a1-side', data: { pgid: 1 } },
        stopAfterMs: 4000,
        killAfterMs: 5400,
        killSignal: 'SIGINT',
      },
    ]);
  });

  it('round-trips through lease.json, written atomically (no temp file left) and for the agent only', async () => {
    const l = buildLease({ contactAt: 99, bound, runners: [runner('a1', { stopAfterMs: 1, killAfterMs: 2 }, ['t'])] });
    await writeLease(dir, l);
    expect(await readLease(dir)).toEqual(l);
    expect(await readdir(dir)).toEqual(['lease.json']);
    expect((await stat(leasePath(dir))).mode & 0o777).toBe(0o600);
  });

  it('reads no lease as undefined and refuses what is not one', async () => {
    expect(await readLease(dir)).toBeUndefined();
    await writeFile(leasePath(dir), '{"version":1,"agentPid":"x"}');
    await expect(readLease(dir)).rejects.toThrow(/not an agent lease/);
    await writeFile(leasePath(dir), '{"version":1,');
    await expect(readLease(dir)).rejects.toThrow();
  });

  it('the writer writes only what changed', async () => {
    const w = new LeaseWriter(dir);
    const l: AgentLease = { version: 1, agentPid: 1, agentStart: '2', contactAt: 3, tasks: [] };
    expect(await w.update(l)).toBe(true);
    const first = (await stat(leasePath(dir))).ino;
    expect(await w.update({ ...l })).toBe(false);
    expect((await stat(leasePath(dir))).ino).toBe(first);
    expect(await w.update({ ...l, contactAt: 4 })).toBe(true);
    expect((await readLease(dir))?.contactAt).toBe(4);
  });
  it('a starting agent takes the lease over: its own pid, the earlier last contact, bound and tasks', async () => {
    const earlier: AgentLease = {
      ...buildLease({ contactAt: 5000, bound, runners: [runner('a1', { stopAfterMs: 4000, killAfterMs: 5400 }, ['web'])] }),
      agentPid: 999_999_999,
      agentStart: '1',
    };
    await writeLease(dir, earlier);
    const mine = await takeOverLease(dir, 7000);
    expect(mine).toEqual({ ...earlier, agentPid: process.pid, agentStart: processStart(process.pid) });
    expect(await readLease(dir)).toEqual(mine);
    // a contact later than now is from before a reboot: counted as now at the latest
    await writeLease(dir, earlier);
    expect((await takeOverLease(dir, 4000))?.contactAt).toBe(4000);
  });

  it('nothing to take over: no lease, or not a lease', async () => {
    expect(await takeOverLease(dir, 1)).toBeUndefined();
    await writeFile(leasePath(dir), '{"version":2}');
    expect(await takeOverLease(dir, 1)).toBeUndefined();
  });
});

import { writeFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { processStart, readLease } from './lease.js';
import {
  acquireWatchdogLock,
  holderAlive,
  LeaseWake,
  readWatchdogHolder,
  releaseWatchdogLock,
  watchdogEnv,
  watchdogLoop,
  watchdogPidPath,
} from './watchdog-spawn.js';

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'baton-wdspawn-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('watchdog pid file', () => {
  it('is taken by this process, named by pid and start time, and released', async () => {
    expect(acquireWatchdogLock(dir)).toBeUndefined();
    const h = readWatchdogHolder(dir);
    expect(h).toEqual({ pid: process.pid, start: processStart(process.pid) });
    expect(holderAlive(h)).toBe(true);
    // no temp file left beside it
    expect(await readdir(dir)).toEqual(['watchdog.pid']);
    releaseWatchdogLock(dir);
    expect(readWatchdogHolder(dir)).toBeUndefined();
  });

  it('is not taken from a live holder, and is taken over from a dead one or a reused pid', () => {
    writeFileSync(watchdogPidPath(dir), JSON.stringify({ pid: process.ppid, start: processStart(process.ppid) }));
    expect(acquireWatchdogLock(dir)).toEqual({ pid: process.ppid, start: processStart(process.ppid) });
    // our parent's pid, but another start time: not the watchdog that wrote it
    writeFileSync(watchdogPidPath(dir), JSON.stringify({ pid: process.ppid, start: '1' }));
    expect(acquireWatchdogLock(dir)).toBeUndefined();
    expect(readWatchdogHolder(dir)?.pid).toBe(process.pid);
    // garbage is no holder either
    writeFileSync(watchdogPidPath(dir), '{');
    expect(acquireWatchdogLock(dir)).toBeUndefined();
  });

  it('leaves a file naming another watchdog in place on release', () => {
    writeFileSync(watchdogPidPath(dir), JSON.stringify({ pid: process.ppid, start: processStart(process.ppid) }));
    releaseWatchdogLock(dir);
    expect(readWatchdogHolder(dir)?.pid).toBe(process.ppid);
  });
});

describe('watchdog environment', () => {
  it('keeps what the drivers need and drops the agent credentials', () => {
    const env = watchdogEnv({
      PATH: '/bin',
      HOME: '/root',
      DOCKER_HOST: 'unix:///x',
      BATON_JOIN_TOKEN: 'join_x',
      BATON_ADDR: 'https://s',
      GITHUB_TOKEN: 't',
      DB_PASSWORD: 'p',
    });
    expect(env).toEqual({ PATH: '/bin', HOME: '/root', DOCKER_HOST: 'unix:///x' });
  });
});

describe('the lease loop', () => {
  it('writes the lease at once when a task starts, not at its next check', async () => {
    const abort = new AbortController();
    const wake = new LeaseWake();
    let contactAt = 1;
    const logger = pino({ level: 'silent' });
    // a check a minute apart: only the wake can bring the second write within the test
    const loop = watchdogLoop({
      dataDir: dir,
      lease: () => ({ version: 1, agentPid: process.pid, agentStart: processStart(process.pid), contactAt, tasks: [] }),
      wake,
      everyMs: 60_000,
      logger,
      signal: abort.signal,
    });
    const contact = async () => (await readLease(dir))?.contactAt;
    try {
      await until(async () => (await contact()) === 1);
      contactAt = 2;
      wake.wake();
      await until(async () => (await contact()) === 2);
      // a wake while the loop was busy is not lost either
      contactAt = 3;
      wake.wake();
      wake.wake();
      await until(async () => (await contact()) === 3);
    } finally {
      abort.abort();
      await loop;
    }
  });
});

async function until(fn: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('never happened');
}

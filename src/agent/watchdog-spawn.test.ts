import { writeFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { processStart } from './lease.js';
import { acquireWatchdogLock, holderAlive, readWatchdogHolder, releaseWatchdogLock, watchdogEnv, watchdogPidPath } from './watchdog-spawn.js';

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
    const env = watchdogEnv({ PATH: '/bin', HOME: '/root', DOCKER_HOST: 'unix:///x', BATON_JOIN_TOKEN: 'join_x', BATON_ADDR: 'https://s', GITHUB_TOKEN: 't', DB_PASSWORD: 'p' });
    expect(env).toEqual({ PATH: '/bin', HOME: '/root', DOCKER_HOST: 'unix:///x' });
  });
});

/**
 * The agent's side of the node watchdog: keeps the lease (lease.ts) current
 * and the watchdog process (watchdog-main.ts) running, one per data dir, in
 * its own session so that it outlives the agent (kill -9, OOM, crash) and
 * stops the agent's tasks at the bound if no agent comes back in time.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, linkSync, openSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { processAlive } from '../drivers/proc.js';
import { LeaseWriter, processStart, type AgentLease } from './lease.js';

export const WATCHDOG_PID_FILE = 'watchdog.pid';
export const WATCHDOG_LOG_FILE = 'watchdog.log';

export interface WatchdogHolder {
  pid: number;
  start: string;
}

export function watchdogPidPath(dataDir: string): string {
  return join(dataDir, WATCHDOG_PID_FILE);
}

/** the watchdog named in the data dir's pid file, whether or not it still runs */
export function readWatchdogHolder(dataDir: string): WatchdogHolder | undefined {
  try {
    const v = JSON.parse(readFileSync(watchdogPidPath(dataDir), 'utf8')) as WatchdogHolder;
    return Number.isInteger(v?.pid) && typeof v.start === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

export function holderAlive(h: WatchdogHolder | undefined): h is WatchdogHolder {
  return h !== undefined && processAlive(h.pid, h.start);
}

/**
 * Take the data dir's watchdog pid file for this process: linked into place
 * (which fails when it exists), so a reader never sees it half written; a
 * file naming a process that is gone is taken over. undefined: taken; else
 * the live holder.
 */
export function acquireWatchdogLock(dataDir: string): WatchdogHolder | undefined {
  const path = watchdogPidPath(dataDir);
  const me: WatchdogHolder = { pid: process.pid, start: processStart(process.pid) };
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(me), { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        linkSync(tmp, path);
        return undefined;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const h = readWatchdogHolder(dataDir);
      if (h && h.pid === me.pid && h.start === me.start) return undefined;
      if (holderAlive(h)) return h;
      // stale: its watchdog is gone. Two takers racing may both get here; the one
      // whose file is in place at the next check keeps the node (the other sees it and leaves)
      try {
        unlinkSync(path);
      } catch {
        // already removed by another taker
      }
    }
    return readWatchdogHolder(dataDir);
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing to clean
    }
  }
}

/** remove the pid file if it still names this process */
export function releaseWatchdogLock(dataDir: string): void {
  const h = readWatchdogHolder(dataDir);
  if (h?.pid !== process.pid) return;
  try {
    unlinkSync(watchdogPidPath(dataDir));
  } catch {
    // gone with the data dir
  }
}

/** the built entry point beside this module (dist/agent/watchdog-main.js); absent when running from sources */
export function watchdogMain(): string | undefined {
  const path = fileURLToPath(new URL('./watchdog-main.js', import.meta.url));
  return existsSync(path) ? path : undefined;
}

/** the agent's environment less its credentials (the join token): the watchdog outlives the agent and needs none */
export function watchdogEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !/^BATON_/.test(k) && !/TOKEN|SECRET|PASSWORD/i.test(k)));
}

export interface EnsureResult {
  /** the watchdog's pid: the one running, or the one just started */
  pid?: number;
  spawned: boolean;
}

/** the pid this process last started, while the watchdog writes its pid file */
const spawnedFor = new Map<string, number>();

/** Start the data dir's watchdog, unless one is alive for it. */
export function ensureWatchdog(dataDir: string, logger: Logger): EnsureResult {
  const h = readWatchdogHolder(dataDir);
  if (holderAlive(h)) return { pid: h.pid, spawned: false };
  const last = spawnedFor.get(dataDir);
  // started but its pid file not written yet (or being taken over from a stale one)
  if (last !== undefined && processAlive(last)) return { pid: last, spawned: false };
  const main = watchdogMain();
  if (!main) return { spawned: false };
  let fd: number | undefined;
  try {
    // its stderr (a crash's stack) lands in the log it keeps itself
    fd = openSync(join(dataDir, WATCHDOG_LOG_FILE), 'a', 0o600);
    const child = spawn(process.execPath, ['--max-old-space-size=32', '--max-semi-space-size=1', main, '--data-dir', dataDir], {
      detached: true,
      stdio: ['ignore', 'ignore', fd],
      cwd: '/',
      env: watchdogEnv(process.env),
    });
    child.on('error', (err) => logger.warn({ err: err.message }, 'cannot start the node watchdog'));
    child.unref();
    if (child.pid === undefined) return { spawned: false };
    spawnedFor.set(dataDir, child.pid);
    logger.info({ pid: child.pid, log: join(dataDir, WATCHDOG_LOG_FILE) }, 'node watchdog started: it stops the tasks at the bound if this agent dies');
    return { pid: child.pid, spawned: true };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export interface WatchdogLoopOptions {
  dataDir: string;
  /** the lease as it is now (buildLease) */
  lease: () => AgentLease;
  logger: Logger;
  signal: AbortSignal;
  /** ms between checks (default 250): the lease is at most this much behind */
  everyMs?: number;
  /** a task started: write the lease now, not at the next check */
  wake?: LeaseWake;
  /**
   * ms a wake waits after the last write (default 25): while tasks start by the
   * hundred per second, one lease (a new file each time, with every running
   * task in it) per start was the agent's largest file write, so the starts of
   * those ms share one
   */
  minGapMs?: number;
}

/** Lets a task start cut the watchdog loop's wait short, so a new task is in the lease within milliseconds. */
export class LeaseWake {
  private waiter: (() => void) | undefined;
  private pending = false;

  wake(): void {
    this.pending = true;
    this.waiter?.();
  }

  /** resolves after `ms`, on abort, or at a wake (one that came meanwhile included) */
  wait(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.waiter = undefined;
        this.pending = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.waiter = done;
      if (this.pending || signal.aborted) done();
    });
  }
}

/**
 * Writes the lease whenever it changed and keeps a watchdog running while
 * any task is in it (started again if it died). The lease is written before
 * the watchdog is started, so it never acts on an older agent's.
 */
export async function watchdogLoop(opts: WatchdogLoopOptions): Promise<void> {
  const every = opts.everyMs ?? 250;
  const minGap = Math.min(every, opts.minGapMs ?? 25);
  const wake = opts.wake ?? new LeaseWake();
  const writer = new LeaseWriter(opts.dataDir);
  let writeError: string | undefined;
  let spawnError: string | undefined;
  let unbuiltSaid = false;
  while (!opts.signal.aborted) {
    let lease: AgentLease | undefined;
    const round = Date.now();
    try {
      lease = opts.lease();
      await writer.update(lease);
      if (writeError !== undefined) opts.logger.info('the watchdog lease is written again');
      writeError = undefined;
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      if (msg !== writeError) opts.logger.error({ err: msg }, 'cannot write the watchdog lease: a crash of this agent would leave its tasks running');
      writeError = msg;
      lease = undefined;
    }
    if (lease && lease.tasks.length > 0 && !opts.signal.aborted) {
      try {
        const r = ensureWatchdog(opts.dataDir, opts.logger);
        if (r.pid === undefined && !unbuiltSaid) {
          unbuiltSaid = true;
          opts.logger.warn('no built watchdog (dist/agent/watchdog-main.js): a crash of this agent would leave its tasks running');
        }
        spawnError = undefined;
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        if (msg !== spawnError) opts.logger.error({ err: msg }, 'cannot start the node watchdog');
        spawnError = msg;
      }
    }
    await wake.wait(every, opts.signal);
    const early = round + minGap - Date.now();
    if (early > 0 && !opts.signal.aborted) await new Promise<void>((r) => setTimeout(r, early));
  }
}

/**
 * The node watchdog: `node dist/agent/watchdog-main.js --data-dir DIR`,
 * started detached by the agent (watchdog-spawn.ts). It reads the agent's
 * lease (lease.ts) every ~200 ms and, once the agent process is gone (killed,
 * OOM, crashed, or stopped and not started again), stops the tasks listed in
 * it at the bound (watchdog.ts): the kill signal `stopAfterMs` after the
 * agent's last server contact, SIGKILL at `killAfterMs`, before the server
 * may place their replacements elsewhere. Such an alloc is marked stopped for
 * a lost server in its state file, so an agent that comes back reports it
 * lost, as the live agent's own stops are. A restarted agent writes a new
 * lease (its pid, a fresh contact) and the watchdog defers to it again.
 * It logs JSON lines to `<dataDir>/watchdog.log` and exits when the agent is
 * gone and none of its tasks is left, or when another watchdog holds the node.
 */
import { closeSync, fstatSync, ftruncateSync, openSync, realpathSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TERMINAL_CLIENT_STATUSES } from '../api/types.js';
import type { Driver, RunningTask, TaskConfig } from '../drivers/driver.js';
import { processAlive } from '../drivers/proc.js';
import { formatDuration } from '../spec/units.js';
import { monotonicMs } from './contact.js';
import { parseLease, readLeaseText, type AgentLease, type LeaseTask } from './lease.js';
import { StateStore } from './state-file.js';
import { decide, taskKey, type TaskProgress, type WatchdogDecision } from './watchdog.js';
import { acquireWatchdogLock, holderAlive, readWatchdogHolder, releaseWatchdogLock, WATCHDOG_LOG_FILE } from './watchdog-spawn.js';

export type WatchLog = (msg: string, fields?: Record<string, unknown>) => void;

export interface WatchdogOptions {
  dataDir: string;
  /** ms between reads of the lease (default 200) */
  everyMs?: number;
  signal?: AbortSignal;
  log?: WatchLog;
  /** the driver of a lease task (default: exec and docker, each imported when a lease first names it) */
  driver?: (name: string) => Promise<Driver | undefined>;
  /** default: the lease's pid exists and started when the lease says */
  agentAlive?: (lease: AgentLease) => boolean;
  /** monotonic ms (default monotonicMs) */
  now?: () => number;
  /** after each round, with what it decided (tests) */
  onRound?: (d: WatchdogDecision) => void;
}

export type WatchdogEnd = 'finished' | 'displaced' | 'aborted';

/** JSON lines, the file cut back to nothing when it would grow past `capBytes` */
export function openWatchLog(path: string, capBytes = 1 << 20): { log: WatchLog; close(): void } {
  let fd: number | undefined;
  let size = 0;
  try {
    fd = openSync(path, 'a', 0o600);
    size = fstatSync(fd).size;
    if (size > capBytes) {
      ftruncateSync(fd, 0);
      size = 0;
    }
  } catch {
    fd = undefined;
  }
  const log: WatchLog = (msg, fields = {}) => {
    const line = `${JSON.stringify({ time: new Date().toISOString(), pid: process.pid, msg, ...fields })}\n`;
    try {
      if (fd === undefined) {
        process.stderr.write(line);
        return;
      }
      if (size + line.length > capBytes) {
        ftruncateSync(fd, 0);
        size = 0;
      }
      size += writeSync(fd, line);
    } catch {
      // the data dir went away: nothing to log to
    }
  };
  return {
    log,
    close: () => {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

async function builtinDriver(name: string): Promise<Driver | undefined> {
  // imported only when a lease names them: an idle watchdog stays small, the docker driver is loaded for docker tasks only
  if (name === 'exec') return new (await import('../drivers/exec.js')).ExecDriver();
  if (name === 'docker') return new (await import('../drivers/docker.js')).DockerDriver();
  return undefined;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((res) => {
    if (signal?.aborted) return res();
    const done = (): void => {
      clearTimeout(timer);
      res();
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', done);
        res();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener('abort', done, { once: true });
  });
}

export async function runWatchdog(opts: WatchdogOptions): Promise<WatchdogEnd> {
  const { dataDir, signal } = opts;
  const every = opts.everyMs ?? 200;
  const log: WatchLog = opts.log ?? (() => undefined);
  const now = opts.now ?? monotonicMs;
  const agentAlive = opts.agentAlive ?? ((l: AgentLease) => processAlive(l.agentPid, l.agentStart));
  const loadDriver = opts.driver ?? builtinDriver;
  const store = new StateStore(dataDir);

  const holder = acquireWatchdogLock(dataDir);
  if (holder) {
    log('another watchdog holds the node: exiting', { holder: holder.pid });
    return 'displaced';
  }
  log('watchdog started', { dataDir });

  const drivers = new Map<string, Promise<Driver | undefined>>();
  const driverOf = (name: string): Promise<Driver | undefined> => {
    let d = drivers.get(name);
    if (!d) {
      d = loadDriver(name).catch((err) => {
        log('cannot load the driver', { driver: name, err: errorText(err) });
        drivers.delete(name);
        return undefined;
      });
      drivers.set(name, d);
    }
    return d;
  };

  let lease: AgentLease | undefined;
  let leaseText: string | undefined;
  let readError: string | undefined;
  let wasAlive: boolean | undefined;
  /** bumped whenever an agent is seen alive: what was under way for an earlier death is dropped */
  let generation = 0;
  const progress = new Map<string, TaskProgress>();
  const attached = new Map<string, Promise<RunningTask | undefined>>();
  const failedSaid = new Set<string>();
  /** by taskKey: whether the task still ran when the watchdog first came to stop it */
  const checked = new Map<string, Promise<boolean>>();

  const attach = (t: LeaseTask): Promise<RunningTask | undefined> => {
    const key = taskKey(t);
    let p = attached.get(key);
    if (!p) {
      p = (async () => {
        const driver = await driverOf(t.driver);
        if (!driver) {
          log('no driver for the task: cannot stop it', { allocId: t.allocId, task: t.taskName, driver: t.driver });
          return undefined;
        }
        const config: TaskConfig = {
          nodeId: '',
          allocId: t.allocId,
          allocName: '',
          allocIndex: 0,
          namespace: '',
          jobId: '',
          taskName: t.taskName,
          args: [],
          env: {},
          resources: { cpu: 0, memory: 0, disk: 0 },
          killSignal: t.killSignal,
          killTimeoutMs: Math.max(0, t.killAfterMs - t.stopAfterMs),
          taskDir: store.taskDir(t.allocId, t.taskName),
        };
        return driver.attach(t.handle, config);
      })();
      attached.set(key, p);
      // a failed attach (the engine not answering) is tried again at the next round
      p.catch(() => attached.delete(key));
    }
    return p;
  };

  /**
   * Before its tasks are stopped, the alloc is marked as stopped for a lost
   * server in its state file, as the live agent does (stopForDisconnect): an
   * agent that starts again finishes the stop and reports the alloc lost, so
   * the server places it again without using a retry, instead of reporting
   * the killed task as failed. Only while no agent runs (the caller checked);
   * once per alloc.
   */
  const marked = new Map<string, Promise<void>>();
  const markLost = (t: LeaseTask, silentMs: number): Promise<void> => {
    let p = marked.get(t.allocId);
    if (!p) {
      p = (async () => {
        try {
          const state = await store.read(t.allocId);
          if (!state || state.lostReason !== undefined || TERMINAL_CLIENT_STATUSES.includes(state.clientStatus)) return;
          state.lostReason = `its agent was gone and had not reached the server for ${formatDuration(silentMs)} (the node's watchdog stopped it)`;
          state.lostAt = new Date().toISOString();
          await store.write(state);
          log('alloc marked lost in its state file', { allocId: t.allocId });
        } catch (err) {
          log('cannot mark the alloc lost in its state file', { allocId: t.allocId, err: errorText(err) });
        }
      })();
      marked.set(t.allocId, p);
    }
    return p;
  };

  const fields = (t: LeaseTask, silentMs: number): Record<string, unknown> => ({
    allocId: t.allocId,
    task: t.taskName,
    driver: t.driver,
    id: t.handle.id,
    silentMs,
  });

  const act = async (t: LeaseTask, kind: 'signal' | 'kill', silentMs: number, gen: number): Promise<void> => {
    const key = taskKey(t);
    try {
      const running = await attach(t);
      if (gen !== generation) return;
      if (!running) {
        progress.set(key, 'gone');
        log('task already gone', fields(t, silentMs));
        return;
      }
      // a task that ended on its own while the agent was down keeps its outcome (complete, failed):
      // only one still running is stopped, and so lost (usage() answers only for a running task)
      // asked once per task: the SIGKILL after the signal must not wait for the engine's stats again
      let check = checked.get(key);
      if (!check)
        checked.set(
          key,
          (check = running.usage().then(
            (u) => u !== undefined,
            () => true,
          )),
        );
      const live = await check;
      if (gen !== generation) return;
      if (!live) {
        progress.set(key, 'gone');
        log('task already ended', fields(t, silentMs));
        return;
      }
      await markLost(t, silentMs);
      if (gen !== generation) return;
      if (kind === 'signal') {
        log('agent gone past the bound: sending the kill signal', {
          ...fields(t, silentMs),
          signal: t.killSignal,
          sigkillInMs: Math.max(0, t.killAfterMs - silentMs),
        });
        if (running.signal) await running.signal(t.killSignal);
        else void running.stop(Math.max(0, t.killAfterMs - silentMs), t.killSignal);
        running.wait().then(
          (exit) => {
            if (gen !== generation || progress.get(key) === 'gone') return;
            progress.set(key, 'gone');
            log('task ended', { ...fields(t, now() - (lease?.contactAt ?? 0)), exitCode: exit.exitCode, signal: exit.signal });
          },
          () => undefined,
        );
      } else {
        log('sending SIGKILL', fields(t, silentMs));
        await running.stop(0, 'SIGKILL');
        if (gen !== generation) return;
        progress.set(key, 'gone');
        log('task killed', fields(t, now() - (lease?.contactAt ?? 0)));
      }
      failedSaid.delete(key);
    } catch (err) {
      if (gen !== generation) return;
      // tried again at the next round
      if (progress.get(key) !== 'gone') progress.delete(key);
      if (!failedSaid.has(key)) log(`cannot ${kind === 'signal' ? 'signal' : 'kill'} the task: trying again`, { ...fields(t, silentMs), err: errorText(err) });
      failedSaid.add(key);
    }
  };

  try {
    for (;;) {
      if (signal?.aborted) return 'aborted';
      const h = readWatchdogHolder(dataDir);
      if (h?.pid !== process.pid) {
        if (holderAlive(h)) {
          log('another watchdog holds the node: exiting', { holder: h.pid });
          return 'displaced';
        }
        // removed (or left by a dead one): take it again
        const other = acquireWatchdogLockQuietly(dataDir);
        if (other) {
          log('another watchdog holds the node: exiting', { holder: other.pid });
          return 'displaced';
        }
      }

      try {
        const text = await readLeaseText(dataDir);
        // no lease (the data dir removed): the tasks of the last one still run, keep to it
        if (text !== undefined && text !== leaseText) {
          const next = parseLease(text);
          if (lease && (next.agentPid !== lease.agentPid || next.agentStart !== lease.agentStart)) {
            log('a new agent process took over the lease', { agentPid: next.agentPid, before: lease.agentPid, tasks: next.tasks.length });
          }
          lease = next;
          leaseText = text;
          // load the drivers it needs now, not when a task falls due
          for (const d of new Set(next.tasks.map((t) => t.driver))) void driverOf(d);
        }
        if (readError !== undefined) log('the lease is readable again');
        readError = undefined;
      } catch (err) {
        const msg = errorText(err);
        if (msg !== readError) log('cannot read the lease: keeping to the last one read', { err: msg });
        readError = msg;
      }

      const alive = lease !== undefined && agentAlive(lease);
      const t = now();
      if (alive !== wasAlive) {
        if (alive) log('agent alive: it keeps to the bound itself', { agentPid: lease!.agentPid, tasks: lease!.tasks.length });
        else if (lease)
          log('agent gone: its tasks are stopped at the bound unless it comes back', {
            agentPid: lease.agentPid,
            silentMs: t - lease.contactAt,
            tasks: lease.tasks.length,
          });
        wasAlive = alive;
      }
      if (alive && (progress.size > 0 || attached.size > 0)) {
        generation++;
        progress.clear();
        attached.clear();
        failedSaid.clear();
        marked.clear();
        checked.clear();
      }

      const d = decide(lease, { agentAlive: alive, now: t, progress });
      const silent = lease ? t - lease.contactAt : 0;
      for (const task of d.signal) {
        progress.set(taskKey(task), 'signalled');
        void act(task, 'signal', silent, generation);
      }
      for (const task of d.kill) {
        progress.set(taskKey(task), 'killed');
        void act(task, 'kill', silent, generation);
      }
      opts.onRound?.(d);
      if (d.finished) {
        log(lease ? 'the agent is gone and none of its tasks is left: exiting' : 'no lease: nothing to watch, exiting');
        return 'finished';
      }
      // wake when the next task falls due, not up to a round later
      await pause(Math.max(5, Math.min(every, d.nextInMs ?? every)), signal);
    }
  } finally {
    releaseWatchdogLock(dataDir);
  }
}

function acquireWatchdogLockQuietly(dataDir: string): { pid: number } | undefined {
  try {
    return acquireWatchdogLock(dataDir);
  } catch {
    // the data dir is gone: no other watchdog can take it either
    return undefined;
  }
}

function dataDirArg(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--data-dir') return argv[i + 1];
    if (argv[i].startsWith('--data-dir=')) return argv[i].slice('--data-dir='.length);
  }
  return undefined;
}

function isMain(): boolean {
  const arg = process.argv[1];
  if (!arg) return false;
  try {
    return realpathSync(resolve(arg)) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  const dir = dataDirArg(process.argv.slice(2));
  if (!dir) {
    process.stderr.write('usage: watchdog-main.js --data-dir DIR\n');
    process.exit(2);
  }
  const dataDir = resolve(dir);
  const out = openWatchLog(resolve(dataDir, WATCHDOG_LOG_FILE));
  // its own session: no terminal hangs it up
  process.on('SIGHUP', () => undefined);
  runWatchdog({ dataDir, log: out.log }).then(
    (end) => {
      out.close();
      // stops still under way belong to the watchdog that displaced this one
      process.exit(0);
      return end;
    },
    (err: unknown) => {
      out.log('watchdog failed', { err: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      out.close();
      process.exit(1);
    },
  );
}

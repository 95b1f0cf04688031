/**
 * The exec driver: runs a host command in its own session and process group,
 * inside a cgroup with the task's memory limit and cpu weight (and a cpu cap
 * when it sets a cpu limit). A small shell wrapper owns the task so it survives
 * the agent: it joins the cgroup before the task starts, outlives group
 * signals, and leaves the exit status in the task dir for whichever agent
 * process asks next.
 */
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, closeSync, constants, existsSync, lstatSync, openSync, readFileSync, readSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { LogStream, Resources } from '../api/types.js';
import { resolveTaskUser, type TaskUser } from '../agent/task-user.js';
import { chownSecrets } from '../agent/secrets.js';
import { Cgroups, type TaskCgroup } from './cgroups.js';
import { readSmallFile } from './small-file.js';
import { defaultLauncher, dropPrivileges, LauncherGone, NodeLauncher, type LaunchRequest, type Launched, type Launcher } from './exec-launcher.js';
import {
  EXEC_OUTPUT_LIMIT,
  type Driver,
  type ExecResult,
  type ExitResult,
  type Fingerprint,
  type LogRecord,
  type RunningTask,
  type TaskConfig,
  type TaskHandle,
  type TaskUsage,
} from './driver.js';
import { findCommand, normaliseSignal, processAlive, readCmdline, readProcStat, signalNumber, signalOfExitCode, sleep } from './proc.js';

/** argv[0] of the wrapper; `list()` recognises our processes by it */
const WRAPPER_NAME = 'baton-exec';

/*
 * $1 alloc id, $2 task name (both only for `list()` via /proc/<pid>/cmdline),
 * $3 exit file, $4 cgroup.procs files joined by ':', then the command and its args.
 * A line on fd 3 (a pipe to the agent, see exec-launcher.ts) tells start() that the
 * trap is set and the cgroup joined, so a stop right after start reaches the task
 * instead of killing a half-set-up wrapper. A pipe, not a file to poll: starting
 * fifty tasks at once must not mean thousands of existence checks.
 * The exit file is created empty by the launcher (see `touch` in exec-launcher.ts)
 * and written in place by the wrapper, not renamed into place: renaming takes an
 * exec of mv, which cost more than the whole rest of a short task. Readers only
 * read it once the wrapper is gone, and an empty file (the task still running, or
 * the wrapper SIGKILLed mid-write) reads as "no exit status".
 * The task runs in the foreground: a trapped signal then waits for it instead of
 * interrupting, and the task keeps default SIGINT/SIGQUIT (a background job would
 * have them ignored by a non-interactive shell).
 */
const WRAPPER = `trap : TERM INT HUP
# by its name in the task dir, the wrapper's cwd: a task user may not be able to reach it by its full path
exitf=\${3##*/}
procs=$4
shift 4
if [ -n "$procs" ]; then
  IFS=:
  for f in $procs; do
    echo $$ > "$f" || { echo "baton: cannot join cgroup $f" >&2; exit 125; }
  done
  unset IFS
fi
# tell start() on fd 3, then close it so the task does not inherit it
echo "R $$" >&3
exec 3>&-
# from here on the task has run: a wrapper found dead without an exit status was killed with it
echo running > "$exitf"
"$@"
rc=$?
echo "$rc" > "$exitf"
exit "$rc"
`;

/*
 * Runs a check command beside the task: $1 is the task's cgroup.procs files
 * joined by ':', then the command. Joining makes the check count against the
 * task's limits and die with it; a group that is gone (the task just ended)
 * must not keep the check from running, so a failed join is ignored.
 */
const CHECK_WRAPPER = `procs=$1
shift
if [ -n "$procs" ]; then
  IFS=:
  for f in $procs; do echo $$ > "$f"; done 2>/dev/null
  unset IFS
fi
exec "$@"
`;

/** the environment a task (and a check beside it) runs with; a task user gets its own HOME, not the agent's */
function processEnv(config: Pick<TaskConfig, 'env'>, user?: RunAs): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: user ? user.home : (process.env.HOME ?? '/'),
    ...(user ? { USER: user.name, LOGNAME: user.name } : {}),
    ...config.env,
  };
}

/** who the wrapper, the task and its checks run as when the agent drops root; absent: as the agent */
export interface RunAs {
  name: string;
  uid: number;
  gid: number;
  groups: number[];
  home: string;
}

/** a file of the task's dir, read without following a link the task may have put there; undefined when unreadable */
function readTaskFile(path: string): string | undefined {
  return readSmallFile(path, constants.O_RDONLY | constants.O_NOFOLLOW);
}

const POLL_MS = 200;
const LOG_POLL_MS = 100;
const LOG_CHUNK = 64 * 1024;

export interface ExecHandleData {
  pgid: number;
  taskDir: string;
  cgroup: TaskCgroup | null;
  startTime: string;
  /** the user the task runs as, when not the agent's own */
  user?: RunAs;
  [key: string]: unknown;
}

export interface ExecDriverOptions {
  /** root of the cgroup filesystem; tests point it elsewhere to exercise the no-cgroup mode */
  cgroupRoot?: string;
  /** how wrappers are forked: a long-lived perl process where perl exists (auto), or Node's spawn */
  launcher?: 'auto' | 'perl' | 'node';
  /** who a task without `user:` runs as when the agent is root (default nobody) */
  taskUser?: string;
  /** may a task run as root (`user: root`, or a root --task-user)? default no */
  allowRoot?: boolean;
}

/** handle.json with the pid and start time left to the launcher (markers survive JSON: no quotes or escapes) */
function handleTemplate(taskDir: string, cgroup: TaskCgroup | null, user: RunAs | undefined): string {
  const data: ExecHandleData = { pgid: -1, taskDir, cgroup, startTime: '@START@', ...(user ? { user } : {}) };
  const handle: TaskHandle = { driver: 'exec', id: '@PID@', data };
  return JSON.stringify(handle).replace('"pgid":-1', '"pgid":@PID@');
}

/**
 * When the wrapper wrote the exit file (its mtime: the launcher made it empty
 * at the start, the wrapper writes it once, right after the task ended), or
 * undefined without an exit status. Not a date the wrapper writes in: the
 * shell has no clock of its own, and an exec of date costs more than a short
 * task.
 */
function exitFileTime(taskDir: string): string | undefined {
  try {
    const st = lstatSync(join(taskDir, 'exit_code'));
    if (!st.isFile() || st.size === 0) return undefined;
    // a clock stepped back, or a task that touched its own exit file: never after now
    return new Date(Math.min(st.mtimeMs, Date.now())).toISOString();
  } catch {
    return undefined;
  }
}

/** the exit file's text: '' before the command ran, 'running' while it runs, then its exit code */
function readExitFile(taskDir: string): string | undefined {
  return readTaskFile(join(taskDir, 'exit_code'))?.trim();
}

function readExitCode(taskDir: string): number | undefined {
  const t = readExitFile(taskDir);
  return t === undefined || t === '' || t === 'running' ? undefined : Number(t);
}

/** the wrapper got as far as running the command (it may have ended or been killed since) */
function commandRan(taskDir: string): boolean {
  const t = readExitFile(taskDir);
  return t !== undefined && t !== '';
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Memory and cpu of a process group from /proc, for hosts without cgroups. */
function processGroupUsage(pgid: number): { memory: number; cpuNanos: number } {
  let memory = 0;
  let ticks = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readProcStat(Number(name));
    if (!st || st.pgrp !== pgid) continue;
    // reaped members live on in their parent's cutime; the wrapper reaps the task
    ticks += st.utime + st.stime + st.cutime + st.cstime;
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${name}/status`, 'utf8'));
      if (m) memory += Number(m[1]) * 1024;
    } catch {
      // exited meanwhile
    }
  }
  // USER_HZ is 100 on every Linux ABI Node supports
  return { memory, cpuNanos: ticks * 10_000_000 };
}

class ExecTask implements RunningTask {
  private gone?: Promise<void>;
  private result?: Promise<ExitResult>;
  private polledPeak = 0;
  private readonly pid: number;
  private readonly data: ExecHandleData;

  private readonly killSignal: string;
  private readonly env: Record<string, string>;

  constructor(
    readonly handle: TaskHandle,
    config: Pick<TaskConfig, 'killSignal' | 'env'>,
    launched?: Launched,
  ) {
    this.killSignal = config.killSignal;
    this.pid = Number(handle.id);
    this.data = handle.data as ExecHandleData;
    this.env = processEnv(config, this.data.user);
    if (launched) {
      // a launcher that lost track of the wrapper hands it over to polling the pid
      this.gone = launched.exited.then((reaped) => (reaped ? undefined : this.pollGone()));
      const cg = this.data.cgroup;
      if (cg?.version === 'v2' && !existsSync(join(cg.memory, 'memory.peak'))) {
        // v2 kernels before 5.19 have no memory.peak: sample memory.current meanwhile
        let done = false;
        void this.gone.then(() => (done = true));
        void (async () => {
          while (!done) {
            this.notePeak();
            await sleep(POLL_MS);
          }
        })();
      }
    }
  }

  private alive(): boolean {
    return processAlive(this.pid, this.data.startTime);
  }

  private notePeak(): void {
    if (this.data.cgroup) this.polledPeak = Math.max(this.polledPeak, Cgroups.stats(this.data.cgroup).memory);
  }

  private async pollGone(): Promise<void> {
    while (this.alive()) {
      this.notePeak();
      await sleep(POLL_MS);
    }
  }

  private waitGone(): Promise<void> {
    this.gone ??= this.pollGone();
    return this.gone;
  }

  wait(): Promise<ExitResult> {
    this.result ??= this.waitGone().then(() => this.exitResult());
    return this.result;
  }

  private exitResult(): ExitResult {
    const code = readExitCode(this.data.taskDir);
    // no exit file: the wrapper itself was SIGKILLed (stop escalation, OOM of the wrapper)
    const exitCode = code ?? 137;
    const res: ExitResult = { exitCode, oomKilled: false };
    const finishedAt = code !== undefined ? exitFileTime(this.data.taskDir) : undefined;
    if (finishedAt) res.finishedAt = finishedAt;
    const signal = signalOfExitCode(exitCode);
    if (signal) res.signal = signal;
    const cg = this.data.cgroup;
    if (cg) {
      const s = Cgroups.stats(cg, { current: false });
      res.oomKilled = s.oomKills > 0 || (cg.version === 'v1' && s.failcnt > 0 && exitCode === 137);
      const peak = Math.max(s.peakMemory, this.polledPeak);
      if (peak > 0) res.peakMemory = peak;
      // the group outlives its processes until destroy(), so its cpu counter is still there
      if (s.cpuNanos !== undefined) res.cpuNanos = s.cpuNanos;
    } else if (this.polledPeak > 0) {
      res.peakMemory = this.polledPeak;
    }
    if (code === 125) res.error = 'the exec wrapper could not put the task into its cgroup';
    return res;
  }

  private async goneWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
    const ok = await Promise.race([this.waitGone().then(() => true as const), timeout]);
    clearTimeout(timer);
    return ok;
  }

  private killAll(signal: NodeJS.Signals): void {
    killQuietly(-this.data.pgid, signal);
    // processes that left the group (setsid, daemonised) are still in the cgroup
    if (this.data.cgroup) for (const pid of Cgroups.pids(this.data.cgroup)) killQuietly(pid, signal);
  }

  async signal(signal: string): Promise<void> {
    if (!this.alive()) return;
    await this.untilTaskForked();
    this.killAll(normaliseSignal(signal));
  }

  async stop(timeoutMs: number, signal?: string): Promise<void> {
    if (!this.alive()) return;
    await this.untilTaskForked();
    this.killAll(normaliseSignal(signal ?? this.killSignal));
    if (await this.goneWithin(Math.max(0, timeoutMs))) return;
    this.killAll('SIGKILL');
    await this.waitGone();
  }

  /**
   * Right after start, the wrapper has said it is ready but may not have
   * started the task yet: a signal then would hit only the wrapper (which
   * traps it) and the task would start unaware. Forked is not enough either:
   * until the child has exec'd the command it is still the wrapper's shell,
   * with the wrapper's trap, and swallows the signal. So wait (briefly; on a
   * busy machine that can take a while) until the child runs the command.
   */
  private async untilTaskForked(): Promise<void> {
    const pid = Number(this.handle.id);
    for (let i = 0; i < 400; i++) {
      let children = '';
      try {
        children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
      } catch {
        return; // no such file (old kernel) or the wrapper is gone: nothing better to do
      }
      if (!this.alive()) return;
      const child = Number(children.split(' ')[0]);
      // the wrapper's own argv (['/bin/sh', '-c', script, 'baton-exec', ...]) until the exec; [] once it has ended
      if (child && readCmdline(child)[3] !== WRAPPER_NAME) return;
      await sleep(5);
    }
  }

  async *logs(cursor?: string): AsyncIterable<LogRecord> {
    const offsets: Record<LogStream, number> = { stdout: 0, stderr: 0 };
    if (cursor) {
      const [o, e] = cursor.split(':').map((x) => Number(x));
      if (Number.isFinite(o) && o >= 0) offsets.stdout = o;
      if (Number.isFinite(e) && e >= 0) offsets.stderr = e;
    }
    const buf = Buffer.alloc(LOG_CHUNK);
    // opened once and kept while following: the files are only ever appended to (or made anew
    // by a restart, which starts a new follow). Read on this thread: these are the pages the
    // task just wrote, and for a short run the hand-offs to the thread pool and back cost more
    // cpu than the rest of following its output
    const files: Partial<Record<LogStream, number>> = {};
    try {
      for (;;) {
        // decide "exited" before reading so output written just before exit is still drained
        const exited = !this.alive();
        let got = false;
        for (const stream of ['stdout', 'stderr'] as const) {
          let fd = files[stream];
          if (fd === undefined) {
            try {
              // never through a link: the task owns its dir, and a link to the node's secrets would ship them as logs
              fd = files[stream] = openSync(join(this.data.taskDir, `${stream}.log`), constants.O_RDONLY | constants.O_NOFOLLOW);
            } catch {
              continue;
            }
          }
          const bytesRead = readSync(fd, buf, 0, LOG_CHUNK, offsets[stream]);
          if (bytesRead > 0) {
            offsets[stream] += bytesRead;
            got = true;
            yield { stream, data: Buffer.from(buf.subarray(0, bytesRead)), cursor: `${offsets.stdout}:${offsets.stderr}` };
          }
        }
        if (!got) {
          if (exited) return;
          await sleep(LOG_POLL_MS);
        }
      }
    } finally {
      for (const fd of Object.values(files)) {
        try {
          closeSync(fd);
        } catch {
          // closed already
        }
      }
    }
  }

  async usage(): Promise<TaskUsage | undefined> {
    if (!this.alive()) return undefined;
    const cg = this.data.cgroup;
    if (cg) {
      const s = Cgroups.stats(cg);
      this.polledPeak = Math.max(this.polledPeak, s.memory);
      const cpuNanos = s.cpuNanos ?? processGroupUsage(this.data.pgid).cpuNanos;
      return { memory: s.memory, peakMemory: Math.max(s.peakMemory, this.polledPeak), cpuNanos };
    }
    const u = processGroupUsage(this.data.pgid);
    this.polledPeak = Math.max(this.polledPeak, u.memory);
    return { memory: u.memory, peakMemory: this.polledPeak, cpuNanos: u.cpuNanos };
  }

  /** a host process listens on the host's loopback */
  async address(): Promise<string | undefined> {
    return '127.0.0.1';
  }

  async exec(command: string, args: string[], timeoutMs: number): Promise<ExecResult> {
    const cwd = this.data.taskDir && existsSync(this.data.taskDir) ? this.data.taskDir : '/';
    if (!findCommand(command, this.env.PATH ?? '', cwd)) throw new Error(`command "${command}" not found on this node`);
    const procs = this.data.cgroup ? Cgroups.procsFiles(this.data.cgroup).join(':') : '';
    // its own process group, so a timeout kills whatever the command started too
    // as the task's user: a check is the task's own command (it joins the group first, as root)
    const user = this.data.user;
    const drop = user ? dropPrivileges(user) : [];
    const child = spawn('/bin/sh', ['-c', CHECK_WRAPPER, 'baton-check', procs, ...drop, command, ...args], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: this.env,
      cwd,
    });
    let output = '';
    const take = (d: Buffer): void => {
      if (output.length < EXEC_OUTPUT_LIMIT) output += d.toString('utf8').slice(0, EXEC_OUTPUT_LIMIT - output.length);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    return new Promise<ExecResult>((resolve, reject) => {
      let timedOut = false;
      const timer = setTimeout(
        () => {
          timedOut = true;
          if (child.pid !== undefined) killQuietly(-child.pid, 'SIGKILL');
        },
        Math.max(0, timeoutMs),
      );
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`could not run ${command}: ${err.message}`));
      });
      // 'close', not 'exit': the output is only complete once both pipes ended
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        if (timedOut) return reject(new Error(`${command} timed out after ${timeoutMs} ms`));
        const n = signal ? signalNumber(signal) : undefined;
        resolve({ exitCode: code ?? (n !== undefined ? 128 + n : -1), output });
      });
    });
  }

  async destroy(): Promise<void> {
    if (this.alive()) {
      this.killAll('SIGKILL');
      await this.waitGone();
    }
    try {
      unlinkSync(join(this.data.taskDir, 'handle.json'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const cg = this.data.cgroup;
    if (!cg) return;
    // the kernel refuses rmdir while a (dying) process is still charged to the group
    for (let i = 0; i < 50; i++) {
      try {
        Cgroups.destroy(cg);
        return;
      } catch {
        this.killAll('SIGKILL');
        await sleep(100);
      }
    }
    Cgroups.destroy(cg);
  }
}

export class ExecDriver implements Driver {
  readonly name = 'exec';
  private cg?: Cgroups;
  private launcherImpl?: Launcher;

  constructor(private readonly options: ExecDriverOptions = {}) {}

  /** detected lazily: constructing the driver must not touch /sys */
  private get cgroups(): Cgroups {
    this.cg ??= new Cgroups(this.options.cgroupRoot);
    return this.cg;
  }

  private get launcher(): Launcher {
    this.launcherImpl ??= defaultLauncher(this.options.launcher);
    return this.launcherImpl;
  }

  /** baton's cgroups (its own and the node's) get the weight of the cpu the agent offers */
  offer(capacity: Resources): void {
    this.cgroups.offer(capacity.cpu);
  }

  /** stops the launcher process (running tasks are not touched) */
  close(): void {
    this.launcherImpl?.close();
  }

  /**
   * Who a task runs as. An agent that is not root runs every task as itself;
   * a root agent as the task's `user:`, else --task-user (nobody), and as root
   * only when the operator allowed it.
   */
  runAs(asked: string | undefined): RunAs | undefined {
    const self = process.getuid?.();
    const allowRoot = this.options.allowRoot === true;
    if (self !== 0) {
      if (asked === undefined) return undefined;
      const u = resolveTaskUser(asked);
      if (u.uid !== self) throw new Error(`cannot run the task as user "${asked}": the agent does not run as root, so tasks run as the agent's own user`);
      return undefined;
    }
    const name = asked ?? this.options.taskUser ?? 'nobody';
    let u: TaskUser;
    try {
      u = resolveTaskUser(name);
    } catch (err) {
      throw new Error(`${(err as Error).message}${asked === undefined ? " (the agent's --task-user)" : ''}`);
    }
    if (u.uid === 0) {
      if (!allowRoot) throw new Error(`the task asks to run as root ("${name}"), which this agent does not allow (start it with --allow-root)`);
      return undefined;
    }
    return u;
  }

  async fingerprint(): Promise<Fingerprint> {
    const v = this.cgroups.version;
    const root = process.getuid?.() === 0;
    return {
      healthy: true,
      detail:
        v === 'none'
          ? `no cgroups: limits not enforced${this.cgroups.reason ? ` (${this.cgroups.reason})` : ''}`
          : `cgroups ${v}: memory limits, cpu weights and cpu limits enforced`,
      attributes: {
        'exec.cgroups': v,
        // the scheduler keeps `user: root` tasks off nodes that would refuse them
        'driver.exec.allow_root': String(!root || this.options.allowRoot === true),
        'driver.exec.task_user': root ? (this.options.taskUser ?? 'nobody') : (process.env.USER ?? String(process.getuid?.())),
      },
    };
  }

  async start(config: TaskConfig): Promise<RunningTask> {
    const existing = this.existingTask(config);
    if (existing) return existing;

    const command = config.command ?? config.args[0];
    const args = config.command !== undefined ? config.args : config.args.slice(1);
    if (!command) throw new Error(`exec task "${config.taskName}" has no command`);
    const user = this.runAs(config.user);
    const env = processEnv(config, user);
    if (!findCommand(command, env.PATH, config.taskDir)) {
      throw new Error(`command "${command}" not found on this node (PATH=${env.PATH})`);
    }

    const cgName = `${config.allocId}-${config.taskName}`;
    const planned = this.cgroups.plan(config.nodeId, cgName, config.resources);
    const cgroup = planned?.cgroup ?? null;

    if (user) {
      // the task's dir is the task's own (its files, its cwd); nothing else of the agent's is
      const st = lstatSync(config.taskDir);
      if (!st.isDirectory()) throw new Error(`task dir ${config.taskDir} is not a directory`);
      chownSync(config.taskDir, user.uid, user.gid);
      chmodSync(config.taskDir, 0o700);
      await chownSecrets(config.taskDir, user.uid, user.gid);
    }
    const exitFile = join(config.taskDir, 'exit_code');
    const procs = cgroup ? Cgroups.procsFiles(cgroup) : [];
    const req: LaunchRequest = {
      // an unprivileged wrapper may not move itself into the group: the launcher joins it before dropping root
      argv: ['/bin/sh', '-c', WRAPPER, WRAPPER_NAME, config.allocId, config.taskName, exitFile, user ? '' : procs.join(':'), command, ...args],
      env,
      cwd: config.taskDir,
      stdoutPath: join(config.taskDir, 'stdout.log'),
      stderrPath: join(config.taskDir, 'stderr.log'),
      setup: planned?.steps,
      // emptied here, written by the wrapper when the task ends; empty means "no exit status yet"
      touch: [exitFile],
      // for a second start() of the same task (an agent that died before it saved the handle)
      handleFile: { path: join(config.taskDir, 'handle.json'), template: handleTemplate(config.taskDir, cgroup, user) },
      ...(user ? { user: { uid: user.uid, gid: user.gid, groups: user.groups }, join: procs } : {}),
    };
    let launched: Launched;
    try {
      launched = await this.launch(req);
    } catch (err) {
      // a half-made group that cannot go now is made anew by the next start of the same task
      if (cgroup) {
        try {
          Cgroups.destroy(cgroup);
        } catch {
          // still busy: the next start of the same task makes it anew
        }
      }
      throw new Error(`could not start the exec wrapper for task "${config.taskName}": ${(err as Error).message}`);
    }
    const pid = launched.pid;
    const data: ExecHandleData = {
      pgid: pid,
      taskDir: config.taskDir,
      cgroup,
      startTime: readProcStat(pid)?.startTime ?? '',
      ...(user ? { user } : {}),
    };
    return new ExecTask({ driver: 'exec', id: String(pid), data }, config, launched);
  }

  /**
   * Through the configured launcher. When its process dies under a launch, it
   * is started again for one more try; when that fails too (perl cannot run
   * here), this driver uses Node's spawn from then on.
   */
  private async launch(req: LaunchRequest): Promise<Launched> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.launcher.launch(req);
      } catch (err) {
        if (!(err instanceof LauncherGone)) throw err;
        if (attempt > 0) this.launcherImpl = new NodeLauncher();
      }
    }
  }

  /** The same alloc/task runs (or ran) from this task dir: hand it back instead of a second copy. */
  private existingTask(config: TaskConfig): RunningTask | undefined {
    const path = join(config.taskDir, 'handle.json');
    // the common case, a task dir without one, without the cost of a thrown ENOENT
    if (!existsSync(path)) return undefined;
    const text = readTaskFile(path);
    if (text === undefined) return undefined;
    try {
      const handle = JSON.parse(text) as TaskHandle;
      const d = handle.data as ExecHandleData;
      // the task may have written this file: believe it only for our own wrapper of this very task
      const argv = readCmdline(Number(handle.id));
      const ours = argv[3] === WRAPPER_NAME && argv[4] === config.allocId && argv[5] === config.taskName && d.taskDir === config.taskDir;
      const user = this.runAs(config.user);
      if (ours && processAlive(Number(handle.id), d.startTime)) {
        // nor for who the checks run as
        return new ExecTask({ ...handle, data: { ...d, ...(user ? { user } : { user: undefined }) } }, config);
      }
      const pid = Number(handle.id);
      if (Number.isInteger(pid) && pid > 0 && typeof d?.startTime === 'string' && !processAlive(pid, d.startTime) && commandRan(config.taskDir)) {
        // It ran and ended while no agent was there to save its handle (the agent died between
        // start and save): hand back the ended run, whose exit the runner then takes, instead of
        // running it a second time. (A wrapper that died before it ran the command, of a SIGPIPE
        // from a launcher that died with the agent say, is started afresh.) Only the pid and start
        // time come from the file (a task can write it); the dir and the cgroup are this task's own.
        const cgroup = this.cgroups.plan(config.nodeId, `${config.allocId}-${config.taskName}`, config.resources)?.cgroup ?? null;
        const data: ExecHandleData = { pgid: pid, taskDir: config.taskDir, cgroup, startTime: d.startTime, ...(user ? { user } : {}) };
        return new ExecTask({ driver: 'exec', id: String(pid), data }, config);
      }
    } catch {
      // no earlier start
    }
    return undefined;
  }

  async recover(config: TaskConfig): Promise<RunningTask | undefined> {
    return this.existingTask(config);
  }

  async attach(handle: TaskHandle, config: TaskConfig): Promise<RunningTask | undefined> {
    if (handle.driver !== 'exec') return undefined;
    const d = handle.data as ExecHandleData;
    const pid = Number(handle.id);
    if (!Number.isInteger(pid) || pid <= 0 || typeof d?.taskDir !== 'string') return undefined;
    if (!processAlive(pid, d.startTime) && readExitCode(d.taskDir) === undefined) {
      // gone for good: a later start of the task must not take this leftover for a run that ended
      rmSync(join(d.taskDir, 'handle.json'), { force: true });
      return undefined;
    }
    return new ExecTask(handle, config);
  }

  async list(nodeId: string): Promise<Array<{ allocId: string; taskName: string; handle: TaskHandle; running: boolean }>> {
    const out: Array<{ allocId: string; taskName: string; handle: TaskHandle; running: boolean }> = [];
    for (const cg of this.cgroups.list(nodeId)) {
      const pids = Cgroups.pids(cg);
      if (pids.length === 0) continue;
      const wrapper = pids.find((p) => readCmdline(p)[3] === WRAPPER_NAME);
      if (wrapper !== undefined) {
        const argv = readCmdline(wrapper);
        const data: ExecHandleData = {
          pgid: wrapper,
          taskDir: dirname(argv[6]),
          cgroup: cg,
          startTime: readProcStat(wrapper)?.startTime ?? '',
        };
        out.push({ allocId: argv[4], taskName: argv[5], handle: { driver: 'exec', id: String(wrapper), data }, running: true });
        continue;
      }
      // the wrapper is gone but strays remain: name the orphan from the dir (`<allocId>-<task>`)
      const name = basename(cg.memory);
      const m = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-(.+)$/i.exec(name);
      const cut = name.lastIndexOf('-');
      const allocId = m ? m[1] : name.slice(0, cut);
      const taskName = m ? m[2] : name.slice(cut + 1);
      const pid = pids[0];
      const data: ExecHandleData = {
        pgid: readProcStat(pid)?.pgrp ?? pid,
        taskDir: '',
        cgroup: cg,
        startTime: readProcStat(pid)?.startTime ?? '',
      };
      out.push({ allocId, taskName, handle: { driver: 'exec', id: String(pid), data }, running: true });
    }
    return out;
  }
}

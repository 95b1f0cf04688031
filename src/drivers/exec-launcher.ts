/**
 * How the exec driver creates the wrapper process of a task. Node's spawn
 * forks the whole agent (a large process) and costs milliseconds of the
 * agent's only thread per task, which caps how many short runs a node can
 * turn over. Where Perl is installed (it is part of every Debian and Ubuntu
 * base system) a small long-lived Perl process, exec-launcher.pl beside this
 * file, forks the wrappers instead: the agent writes one line per task and
 * reads one line back when the wrapper is forked, one when it is ready and one
 * when it is gone. Without Perl, or when it cannot start, the driver falls
 * back to Node's spawn.
 *
 * Both launchers share everything but the fork: prepare() makes the task's
 * cgroup and its files, and writeHandle() the handle
 * file once the pid is known. The Perl side only does what has to happen in
 * the child between fork and exec (see the top of exec-launcher.pl).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, existsSync, fchownSync, fstatSync, open, unlink, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { Cgroups, type CgroupStep } from './cgroups.js';
import { findCommand, readProcStat } from './proc.js';

/** the Perl half of PerlLauncher; the build copies it next to the compiled file */
export const PERL_LAUNCHER_SCRIPT = fileURLToPath(new URL('./exec-launcher.pl', import.meta.url));

export interface LaunchRequest {
  /** argv of the wrapper; argv[0] is the program */
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  stdoutPath: string;
  stderrPath: string;
  /** the task's cgroup, made (limits written) by the agent before the wrapper is forked */
  setup?: CgroupStep[];
  /**
   * Files created empty (or emptied) before the wrapper starts, by a process
   * outside the task's cgroup: an inode or dentry a task's process creates is
   * charged to its memory cgroup and keeps the group alive in the kernel after
   * it is removed, and thousands of such dying groups slow down every later
   * cgroup operation on the node.
   */
  touch?: string[];
  /**
   * Written once the pid is known, before the wrapper runs anything: the text
   * with @PID@ and @START@ (the /proc start time) filled in. The perl launcher's
   * child waits for it before its exec, so an agent that dies at any point of a
   * launch leaves either this file or a run that never started.
   */
  handleFile?: { path: string; template: string };
  /**
   * Run the wrapper as this user: its supplementary groups replaced by
   * `groups`, then setgid, then setuid, after everything that needs root
   * (the cgroup, the files above, joining `join`) and before the exec.
   */
  user?: { uid: number; gid: number; groups: number[] };
  /**
   * cgroup.procs files the child joins itself (as root, before dropping to
   * `user`): an unprivileged wrapper may not move itself into the group.
   */
  join?: string[];
}

/**
 * Files the launcher makes in the task's directory, which the task controls:
 * the old name is unlinked and the file created anew with O_EXCL|O_NOFOLLOW,
 * so a link the task left there is replaced, never written through. The agent
 * makes them, outside the task's cgroup (see `touch`).
 */
const unlinkAsync = promisify(unlink);
const openAsync = promisify(open);

// Creating a file costs a millisecond or more on some disks (ext4 without a journal looks through
// the inodes freed in the last minute for every new one): done on the agent's thread, four of them
// per task capped how many runs a node could start. On libuv's thread pool they run beside the
// agent and beside each other. The task's dir is new for almost every task, so the file is made
// first and the old name unlinked only when one is there (a restart in place, or a link the task left).
async function createFresh(path: string, owner?: { uid: number; gid: number }): Promise<number> {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  let fd: number;
  try {
    fd = await openAsync(path, flags, 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    try {
      await unlinkAsync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    fd = await openAsync(path, flags, 0o644);
  }
  // the rest on this thread: calls on an open file are microseconds, a hand-off to the pool and back tens of them
  try {
    if (owner) fchownSync(fd, owner.uid, owner.gid);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}

/**
 * What both launchers do before the fork: the task's cgroup with its limits,
 * the touch files (the task user's), and stdout and stderr made anew. Returns
 * the two log files open for writing. The cgroup is made on the agent's
 * thread: cgroupfs lives in memory, and its dozen calls cost less there than
 * the hand-offs to the thread pool and back (measured: about 0.3 ms of the
 * kernel's time per task on cgroup v1, three hierarchies).
 */
async function prepare(req: LaunchRequest): Promise<{ out: number; err: number }> {
  if (req.setup) Cgroups.apply(req.setup);
  const files = await Promise.allSettled([
    ...(req.touch ?? []).map((f) => createFresh(f, req.user).then((fd) => (closeSync(fd), -1))),
    createFresh(req.stdoutPath),
    createFresh(req.stderrPath),
  ]);
  const failed = files.find((f) => f.status === 'rejected');
  if (failed) {
    // the log files that were made are closed again: nothing leaks when one step failed
    for (const f of files.slice(-2)) if (f.status === 'fulfilled') closeSync(f.value);
    throw failed.reason;
  }
  const [out, err] = files.slice(-2).map((f) => (f as PromiseFulfilledResult<number>).value);
  return { out: out, err: err };
}

/** the handle file, once the wrapper's pid is known (its start time is the forked child's: exec keeps it) */
async function writeHandle(file: { path: string; template: string }, pid: number, mustExist: boolean): Promise<void> {
  const start = readProcStat(pid)?.startTime;
  if (start === undefined && mustExist) throw new Error(`the wrapper (pid ${pid}) is gone before its handle was written`);
  const fd = await createFresh(file.path);
  try {
    writeSync(fd, file.template.replaceAll('@PID@', String(pid)).replaceAll('@START@', start ?? ''));
  } finally {
    closeSync(fd);
  }
}

export interface Launched {
  pid: number;
  /**
   * Resolves when the wrapper is gone: true when it was reaped (so it is
   * certainly gone), false when the launcher lost track of it (the caller then
   * has to poll the pid).
   */
  exited: Promise<boolean>;
}

/**
 * Starts a wrapper in its own session and process group, stdin from
 * /dev/null, stdout and stderr into the given files (truncated), and fd 3 a
 * pipe on which the wrapper writes one line ("R <its pid>") when it is ready.
 * Resolves once that line came or the wrapper is gone, whichever is first.
 */
export interface Launcher {
  readonly kind: 'perl' | 'node';
  launch(req: LaunchRequest): Promise<Launched>;
  close(): void;
}

const READY_TIMEOUT_MS = 5_000;

/** the launcher process itself failed, not the task: the caller may try another launcher */
export class LauncherGone extends Error {}

/** $1: cgroup.procs files joined by ':', then the command (setpriv ... wrapper) */
export const JOIN_THEN_DROP = `procs=$1
shift
if [ -n "$procs" ]; then
  IFS=:
  for f in $procs; do
    echo $$ > "$f" || { echo "baton: cannot join cgroup $f" >&2; exit 125; }
  done
  unset IFS
fi
exec "$@"
`;

/**
 * The argv prefix that runs a command as the user: its groups replaced,
 * then gid, then uid, and no way back up through setuid binaries. setpriv is
 * part of util-linux, on every Debian and Ubuntu base system.
 */
export function dropPrivileges(user: { uid: number; gid: number; groups: number[] }): string[] {
  const setpriv = findCommand('setpriv', process.env.PATH ?? '/usr/bin:/bin', '/');
  if (!setpriv) throw new Error('cannot run a task as another user here: neither perl nor setpriv (util-linux) is installed');
  return [setpriv, `--reuid=${user.uid}`, `--regid=${user.gid}`, `--groups=${user.groups.join(',')}`, '--no-new-privs', '--'];
}

export class NodeLauncher implements Launcher {
  readonly kind = 'node';

  async launch(req: LaunchRequest): Promise<Launched> {
    // as root: join the group, then become the user (setpriv) and exec the wrapper, all in one pid
    const argv = req.user ? ['/bin/sh', '-c', JOIN_THEN_DROP, 'baton-join', (req.join ?? []).join(':'), ...dropPrivileges(req.user), ...req.argv] : req.argv;
    const { out, err } = await prepare(req);
    let child: ChildProcess;
    try {
      child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', out, err, 'pipe'], env: req.env, cwd: req.cwd });
    } finally {
      closeSync(out);
      closeSync(err);
    }
    const pid = child.pid;
    if (pid === undefined) {
      const e = await new Promise<Error>((r) => child.once('error', r));
      // Node blames the program for a missing working directory
      if (!existsSync(req.cwd)) throw new Error(`cannot change into ${req.cwd}: no such directory`);
      throw new Error(`could not start ${req.argv[0]}: ${e.message}`);
    }
    child.on('error', () => {}); // a late error must not crash the agent; the exit is reported anyway
    child.unref();
    // after the spawn: Node has no way to hold the child back until this is written
    if (req.handleFile) await writeHandle(req.handleFile, pid, false);
    const exited =
      child.exitCode !== null || child.signalCode !== null ? Promise.resolve(true) : new Promise<boolean>((r) => child.once('exit', () => r(true)));
    const ready = child.stdio[3] as Readable | null;
    if (ready) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          ready.destroy();
          resolve();
        };
        const timer = setTimeout(done, READY_TIMEOUT_MS);
        ready.once('data', done);
        ready.once('close', done);
        ready.once('error', done);
      });
    }
    return { pid, exited };
  }

  close(): void {}
}

interface Pending {
  resolve: (l: Launched) => void;
  reject: (e: Error) => void;
  /** written when P comes, before the child may exec (G) */
  handleFile?: { path: string; template: string };
  pid?: number;
}

interface Tracked {
  ready: () => void;
  /** gives up waiting for the ready line (the child failed before exec) */
  cancel: () => void;
  exited: (reaped: boolean) => void;
  exitedPromise: Promise<boolean>;
  isReady: boolean;
}

const hex = (s: string): string => Buffer.from(s, 'utf8').toString('hex');
/** values at least this long (the wrapper script) are sent to the launcher once and then named by key */
const INTERN_MIN = 256;
const INTERN_MAX = 64;

/** which file this is: the child opens it by path and checks it is still the one the agent made */
function fileId(fd: number): string {
  const st = fstatSync(fd, { bigint: true });
  return `${st.dev}:${st.ino}`;
}

export class PerlLauncher implements Launcher {
  readonly kind = 'perl';
  private proc?: ChildProcess;
  private nextReq = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly tracked = new Map<number, Tracked>();
  /** ready lines that came before the fork was reported (a launch without a handle file is not held back) */
  private readonly earlyReady = new Set<number>();
  /** long values the launcher process already holds, by key: sent once instead of with every task */
  private readonly interned = new Map<string, number>();

  constructor(
    private readonly perl: string,
    private readonly script = PERL_LAUNCHER_SCRIPT,
  ) {}

  private ensure(): ChildProcess {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) return this.proc;
    // detached: a ^C or group signal aimed at the agent must not take the launcher with it mid-fork
    const proc = spawn(this.perl, [this.script], { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
    // an idle launcher must not keep the agent's process alive (its stdin closing at exit is what
    // stops it); while launches or wrappers are outstanding, its stdout is held (see hold())
    proc.unref();
    for (const s of [proc.stdin, proc.stdout] as Array<{ unref?: () => void } | null>) s?.unref?.();
    proc.on('error', () => this.lost(proc, 'could not start perl'));
    proc.on('exit', () => this.lost(proc, 'the perl launcher exited'));
    proc.stdin.on('error', () => {}); // EPIPE after an exit: reported through 'exit'
    // lines may come in any pieces: readline puts them together
    const rl = createInterface({ input: proc.stdout, crlfDelay: Infinity });
    rl.on('line', (l) => {
      this.onLine(proc, l);
      this.hold();
    });
    this.proc = proc;
    return proc;
  }

  /** the launcher died: pending launches fail, running wrappers are handed to polling */
  private lost(proc: ChildProcess, why: string): void {
    if (this.proc !== proc) return;
    this.proc = undefined;
    for (const p of this.pending.values()) p.reject(new LauncherGone(why));
    this.pending.clear();
    for (const t of this.tracked.values()) {
      t.ready();
      t.exited(false);
    }
    this.tracked.clear();
    this.earlyReady.clear();
    this.interned.clear();
  }

  /** keep the process alive exactly while something waits on a line from the launcher */
  private hold(): void {
    const out = this.proc?.stdout as { ref?: () => void; unref?: () => void } | null | undefined;
    if (this.pending.size + this.tracked.size > 0) out?.ref?.();
    else out?.unref?.();
  }

  private track(pid: number): Tracked {
    let exited!: (reaped: boolean) => void;
    const exitedPromise = new Promise<boolean>((r) => (exited = r));
    const t: Tracked = { ready: () => {}, cancel: () => {}, exited, exitedPromise, isReady: false };
    this.tracked.set(pid, t);
    return t;
  }

  private onLine(proc: ChildProcess, line: string): void {
    const [op, a, b] = line.split(' ');
    if (op === 'P') {
      const req = Number(a);
      const pid = Number(b);
      const p = this.pending.get(req);
      // failed already (its E came first): the launcher reaps it and drops its go pipe
      if (!p) return;
      p.pid = pid;
      const t = this.track(pid);
      if (p.handleFile) {
        // the child waits for its go until the handle is on disk
        writeHandle(p.handleFile, pid, true).then(
          () => void proc.stdin!.write(`G ${req}\n`),
          (err: unknown) => {
            // the child exits without running anything
            proc.stdin!.write(`C ${req}\n`);
            this.pending.delete(req);
            this.tracked.get(pid)?.cancel();
            this.tracked.delete(pid);
            p.reject(err as Error);
          },
        );
      }
      const settle = (): void => {
        if (t.isReady) return;
        t.isReady = true;
        clearTimeout(timer);
        this.pending.delete(req);
        p.resolve({ pid, exited: t.exitedPromise });
      };
      const timer = setTimeout(settle, READY_TIMEOUT_MS);
      t.ready = settle;
      t.cancel = () => clearTimeout(timer);
      if (this.earlyReady.delete(pid)) settle();
    } else if (op === 'R') {
      const pid = Number(a);
      const t = this.tracked.get(pid);
      if (t) t.ready();
      else this.earlyReady.add(pid);
    } else if (op === 'X') {
      // never before its P line: the launcher reaps in its loop, after it wrote P
      this.reaped(Number(a));
    } else if (op === 'E') {
      const req = Number(a);
      const p = this.pending.get(req);
      if (!p) return;
      this.pending.delete(req);
      if (p.pid !== undefined) {
        this.tracked.get(p.pid)?.cancel();
        this.tracked.delete(p.pid);
      }
      p.reject(new Error(Buffer.from(b ?? '', 'hex').toString('utf8')));
    }
  }

  private reaped(pid: number): void {
    this.earlyReady.delete(pid);
    const t = this.tracked.get(pid);
    if (!t) return;
    this.tracked.delete(pid);
    // a wrapper that died before saying ready still ends the launch: it is started and gone
    t.ready();
    t.exited(true);
  }

  async launch(req: LaunchRequest): Promise<Launched> {
    const files = await prepare(req);
    let outId: string;
    let errId: string;
    try {
      outId = fileId(files.out);
      errId = fileId(files.err);
    } finally {
      closeSync(files.out);
      closeSync(files.err);
    }
    // from here on synchronous: the keys of interned values belong to the process this line goes to
    const proc = this.ensure();
    const id = ++this.nextReq;
    const env = Object.entries(req.env).map(([k, v]) => `${k}=${v}`);
    const user = req.user;
    const join = req.join ?? [];
    let define = '';
    const field = (v: string): string => {
      if (v.length < INTERN_MIN) return hex(v);
      let key = this.interned.get(v);
      // bounded: one-off long values (a long argument) are sent inline once the table is full
      if (key === undefined && this.interned.size >= INTERN_MAX) return hex(v);
      if (key === undefined) {
        key = this.interned.size + 1;
        this.interned.set(v, key);
        define += `K ${key} ${hex(v)}\n`;
      }
      return `~${key}`;
    };
    const fields = [
      req.handleFile ? '1' : '',
      req.cwd,
      req.stdoutPath,
      outId,
      req.stderrPath,
      errId,
      user ? String(user.uid) : '',
      user ? String(user.gid) : '',
      user ? user.groups.join(',') : '',
      String(join.length),
      ...join,
      String(env.length),
      ...env,
      ...req.argv,
    ].map(field);
    return new Promise<Launched>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, ...(req.handleFile ? { handleFile: req.handleFile } : {}) });
      this.hold();
      proc.stdin!.write(`${define}S ${id} ${fields.join(' ')}\n`);
    });
  }

  close(): void {
    const proc = this.proc;
    if (!proc) return;
    this.lost(proc, 'the launcher was closed');
    proc.stdin!.end();
  }
}

/** Perl's launcher where perl is on PATH, Node's spawn elsewhere. */
export function defaultLauncher(kind: 'auto' | 'perl' | 'node' = 'auto'): Launcher {
  if (kind === 'node') return new NodeLauncher();
  const perl = findCommand('perl', process.env.PATH ?? '/usr/bin:/bin', '/');
  // a build that lost the script beside this file runs on Node rather than failing every launch
  if (perl && existsSync(PERL_LAUNCHER_SCRIPT)) return new PerlLauncher(perl);
  if (perl && kind === 'perl') throw new Error(`the perl launcher script is missing: ${PERL_LAUNCHER_SCRIPT}`);
  if (kind === 'perl') throw new Error('perl is not installed on this node (needed by the perl launcher)');
  return new NodeLauncher();
}

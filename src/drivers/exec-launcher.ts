/**
 * How the exec driver creates the wrapper process of a task. Node's spawn
 * forks the whole agent (a large process) and costs milliseconds of the
 * agent's only thread per task, which caps how many short runs a node can
 * turn over. Where Perl is installed (it is part of every Debian and Ubuntu
 * base system) a small long-lived Perl process forks the wrappers instead: the
 * agent writes one line per task and reads one line back when the wrapper is
 * ready and one when it is gone. Without Perl, or when it cannot start, the
 * driver falls back to Node's spawn.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, existsSync, fchownSync, openSync, unlinkSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { Cgroups, type CgroupStep } from './cgroups.js';
import { findCommand, readProcStat } from './proc.js';

export interface LaunchRequest {
  /** argv of the wrapper; argv[0] is the program */
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  stdoutPath: string;
  stderrPath: string;
  /** the task's cgroup, made (limits written) before the wrapper starts */
  setup?: CgroupStep[];
  /**
   * Files created empty (or emptied) before the wrapper starts, by a process
   * outside the task's cgroup: an inode or dentry a task's process creates is
   * charged to its memory cgroup and keeps the group alive in the kernel after
   * it is removed, and thousands of such dying groups slow down every later
   * cgroup operation on the node.
   */
  touch?: string[];
  /** written once the pid is known: the text with @PID@ and @START@ (the /proc start time) filled in */
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
 * so a link the task left there is replaced, never written through.
 */
function createFresh(path: string, owner?: { uid: number; gid: number }): number {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  if (owner) fchownSync(fd, owner.uid, owner.gid);
  return fd;
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
    if (req.setup) Cgroups.apply(req.setup);
    for (const f of req.touch ?? []) closeSync(createFresh(f, req.user));
    const out = createFresh(req.stdoutPath);
    const err = createFresh(req.stderrPath);
    let child: ChildProcess;
    // as root: join the group, then become the user (setpriv) and exec the wrapper, all in one pid
    const argv = req.user ? ['/bin/sh', '-c', JOIN_THEN_DROP, 'baton-join', (req.join ?? []).join(':'), ...dropPrivileges(req.user), ...req.argv] : req.argv;
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
    if (req.handleFile) {
      const start = readProcStat(pid)?.startTime ?? '';
      const fd = createFresh(req.handleFile.path);
      try {
        writeFileSync(fd, req.handleFile.template.replaceAll('@PID@', String(pid)).replaceAll('@START@', start));
      } finally {
        closeSync(fd);
      }
    }
    const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve(true) : new Promise<boolean>((r) => child.once('exit', () => r(true)));
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

/*
 * Protocol, one line each way per event, fields hex-encoded so that any byte
 * may appear in paths, env and args (or "~<key>" for a value sent before with K):
 *   agent → perl: S <req> <cwd> <stdout> <stderr> <setup count> <setup>... <env count> <env K=V>... <argv>...
 *                 setup steps: "M\0<dir>" (mkdir; an existing empty one is made anew, a busy one kept,
 *                 as in cgroups.ts), "W\0<file>\0<value>" (write, must
 *                 succeed), "w\0<file>\0<value>" (write, may fail: a file the kernel does not have),
 *                 "T\0<file>" (create or empty a file), "H\0<file>\0<text>" (write the text with @PID@ and
 *                 @START@ replaced by the child's pid and /proc start time: the wrapper's, as exec keeps both),
 *                 "U\0<uid>\0<gid>\0<groups, comma-separated>" (become this user before the exec; T files are
 *                 handed to it), "J\0<cgroup.procs>" (join, as root, after the files are made)
 *                 T, H and the stdout/stderr files are made anew (unlink, then O_EXCL|O_NOFOLLOW): the
 *                 task owns its directory and may have left links there
 *                 K <key> <value>      remembers a long value (the wrapper script) for fields "~<key>"
 *   perl → agent: P <req> <pid>          forked
 *                 E <req> <message>      could not fork or set up the child (message hex)
 *                 X <pid> <wait status>  the wrapper was reaped
 *   wrapper → agent (fd 3, same pipe):  R <pid>
 * Reaping is done in a SIGCHLD handler with SIGCHLD blocked around fork, so a
 * child that exits at once is still known by its pid when it is reaped. The
 * parent ignores SIGPIPE so an agent that went away does not take it down;
 * it exits when its stdin closes and the wrappers live on, reparented, and
 * leave their exit status in the task dir as usual.
 */
const PERL_SPAWNER = String.raw`
use strict;
use warnings;
use POSIX ();
use Fcntl qw(O_WRONLY O_CREAT O_EXCL O_NOFOLLOW);
$| = 1;
$SIG{PIPE} = 'IGNORE';
my %kids;
$SIG{CHLD} = sub {
  while ((my $p = waitpid(-1, POSIX::WNOHANG())) > 0) {
    print "X $p $?\n" if delete $kids{$p};
  }
};
my $report = \*STDOUT;
sub fail { my ($req, $msg) = @_; print $report "E $req ", unpack('H*', $msg), "\n"; POSIX::_exit(127) }
# a file in the task's directory, made anew: never through a link the task left there
sub fresh {
  my ($req, $path, $owner) = @_;
  unlink($path) or $! + 0 == POSIX::ENOENT() or fail($req, "cannot replace $path: $!");
  sysopen(my $fh, $path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644) or fail($req, "cannot create $path: $!");
  if ($owner) { chown($owner->[0], $owner->[1], $fh) or fail($req, "cannot hand $path to uid $owner->[0]: $!") }
  return $fh;
}
sub child {
  my ($req, $cwd, $out, $err, $setupc, @rest) = @_;
  my @setup = splice(@rest, 0, $setupc);
  my $envc = shift @rest;
  my @env = splice(@rest, 0, $envc);
  $SIG{$_} = 'DEFAULT' for qw(CHLD PIPE);
  POSIX::setsid();
  my ($user, @join);
  for my $step (@setup) {
    my ($k, $path, $value) = split(/\0/, $step, 3);
    if ($k eq 'U') {
      my ($gid, $groups) = split(/\0/, $value, 2);
      $user = [$path + 0, $gid + 0, $groups];
    } elsif ($k eq 'J') {
      push @join, $path;
    } elsif ($k eq 'M') {
      # a leftover group of an earlier run is made anew when empty, kept when busy
      if (!mkdir($path)) {
        $! + 0 == POSIX::EEXIST() or fail($req, "cannot create cgroup $path: $!");
        rmdir($path) and (mkdir($path) or fail($req, "cannot create cgroup $path: $!"));
      }
    } elsif ($k eq 'H') {
      # the task's handle, for a restarted agent: our pid and start time are the wrapper's (exec keeps both)
      open(my $st, '<', "/proc/$$/stat") or fail($req, "cannot read /proc/$$/stat: $!");
      my $stat = <$st>;
      close $st;
      my @sf = split(/ /, substr($stat, rindex($stat, ')') + 2));
      $value =~ s/\@PID\@/$$/g;
      $value =~ s/\@START\@/$sf[19]/g;
      my $fh = fresh($req, $path);
      my $ok = print $fh $value;
      $ok &&= close $fh;
      fail($req, "cannot write $path: $!") if !$ok;
    } elsif ($k eq 'T') {
      # the wrapper writes these (the exit code): they belong to the task's user
      close(fresh($req, $path, $user));
    } else {
      my $ok = open(my $fh, '>', $path);
      $ok &&= print $fh $value;
      $ok &&= close $fh;
      fail($req, "cannot write $value to $path: $!") if !$ok && $k eq 'W';
    }
  }
  # fd 3 is the pipe to the agent for the wrapper's ready line; dup2 leaves it open across
  # exec, and $^F = 3 keeps perl from marking it close-on-exec when it is opened below
  $^F = 3;
  defined(POSIX::dup2(fileno(STDOUT), 3)) or fail($req, "dup2: $!");
  open(my $fd3, '>&=', 3) or fail($req, "fd 3: $!");
  # autoflush without a method call: that would load IO::Handle in every child, which costs
  # more than the rest of the child's work together
  select((select($fd3), $| = 1)[0]);
  $report = $fd3;
  open(STDIN, '<', '/dev/null') or fail($req, "cannot open /dev/null: $!");
  my $ofh = fresh($req, $out);
  defined(POSIX::dup2(fileno($ofh), 1)) or fail($req, "dup2: $!");
  close $ofh;
  my $efh = fresh($req, $err);
  defined(POSIX::dup2(fileno($efh), 2)) or fail($req, "dup2: $!");
  close $efh;
  chdir($cwd) or fail($req, "cannot change into $cwd: $!");
  # after the files, so their inodes are not charged to the task's group (see touch in exec-launcher.ts)
  for my $procs (@join) {
    my $ok = open(my $fh, '>', $procs);
    $ok &&= print $fh "$$\n";
    $ok &&= close $fh;
    fail($req, "cannot join cgroup $procs: $!") if !$ok;
  }
  if ($user) {
    my ($uid, $gid, $groups) = @$user;
    # $) with a list is setgroups(list) then setegid; then the real and saved ids with setgid/setuid
    $) = join(' ', $gid, split(/,/, $groups));
    POSIX::setgid($gid) or fail($req, "setgid $gid: $!");
    POSIX::setuid($uid) or fail($req, "setuid $uid: $!");
    ($< == $uid && $> == $uid && (split(/ /, $())[0] == $gid && (split(/ /, $)))[0] == $gid) or fail($req, "could not become uid $uid gid $gid");
  }
  %ENV = map { split(/=/, $_, 2) } @env;
  { no warnings 'exec'; exec { $rest[0] } @rest; }
  fail($req, "cannot run $rest[0]: $!");
}
my %interned;
my $block = POSIX::SigSet->new(POSIX::SIGCHLD());
while (my $line = <STDIN>) {
  chomp $line;
  my ($op, $req, @f) = split(/ /, $line);
  next unless defined $op;
  if ($op eq 'K') { $interned{$req} = pack('H*', $f[0]); next }
  next unless $op eq 'S';
  @f = map { /^~(\d+)$/ ? $interned{$1} : pack('H*', $_) } @f;
  my $old = POSIX::SigSet->new;
  POSIX::sigprocmask(POSIX::SIG_BLOCK(), $block, $old);
  my $pid = fork;
  if (defined $pid && $pid == 0) { POSIX::sigprocmask(POSIX::SIG_SETMASK(), $old); child($req, @f) }
  if (defined $pid) { $kids{$pid} = 1; print "P $req $pid\n" } else { print "E $req ", unpack('H*', "fork: $!"), "\n" }
  POSIX::sigprocmask(POSIX::SIG_SETMASK(), $old);
}
`;

interface Pending {
  resolve: (l: Launched) => void;
  reject: (e: Error) => void;
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

export class PerlLauncher implements Launcher {
  readonly kind = 'perl';
  private proc?: ChildProcess;
  private nextReq = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly tracked = new Map<number, Tracked>();
  /** ready lines that came before the fork was reported */
  private readonly earlyReady = new Set<number>();
  /** long values the launcher process already holds, by key: sent once instead of with every task */
  private readonly interned = new Map<string, number>();

  constructor(private readonly perl: string) {}

  private ensure(): ChildProcess {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) return this.proc;
    // detached: a ^C or group signal aimed at the agent must not take the launcher with it mid-fork
    const proc = spawn(this.perl, ['-e', PERL_SPAWNER], { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
    // an idle launcher must not keep the agent's process alive (its stdin closing at exit is what
    // stops it); while launches or wrappers are outstanding, its stdout is held (see hold())
    proc.unref();
    for (const s of [proc.stdin, proc.stdout] as Array<{ unref?: () => void } | null>) s?.unref?.();
    proc.on('error', () => this.lost(proc, 'could not start perl'));
    proc.on('exit', () => this.lost(proc, 'the perl launcher exited'));
    proc.stdin.on('error', () => {}); // EPIPE after an exit: reported through 'exit'
    const rl = createInterface({ input: proc.stdout });
    rl.on('line', (l) => {
      this.onLine(l);
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

  private onLine(line: string): void {
    const [op, a, b] = line.split(' ');
    if (op === 'P') {
      const req = Number(a);
      const pid = Number(b);
      const p = this.pending.get(req);
      if (!p) return;
      p.pid = pid;
      const t = this.track(pid);
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
      // never before its P line: SIGCHLD is blocked from fork until P is printed
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
    const t = this.tracked.get(pid);
    if (!t) return;
    this.tracked.delete(pid);
    // a wrapper that died before saying ready still ends the launch: it is started and gone
    t.ready();
    t.exited(true);
  }

  launch(req: LaunchRequest): Promise<Launched> {
    const proc = this.ensure();
    const id = ++this.nextReq;
    const env = Object.entries(req.env).map(([k, v]) => `${k}=${v}`);
    const setup = [
      ...(req.setup ?? []).map((st) => ('mkdir' in st ? `M\0${st.mkdir}` : `${st.required ? 'W' : 'w'}\0${st.write}\0${st.value}`)),
      ...(req.user ? [`U\0${req.user.uid}\0${req.user.gid}\0${req.user.groups.join(',')}`] : []),
      ...(req.join ?? []).map((f) => `J\0${f}`),
      ...(req.touch ?? []).map((f) => `T\0${f}`),
      ...(req.handleFile ? [`H\0${req.handleFile.path}\0${req.handleFile.template}`] : []),
    ];
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
    const fields = [req.cwd, req.stdoutPath, req.stderrPath, String(setup.length), ...setup, String(env.length), ...env, ...req.argv].map(field);
    return new Promise<Launched>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
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
  if (perl) return new PerlLauncher(perl);
  if (kind === 'perl') throw new Error('perl is not installed on this node (needed by the perl launcher)');
  return new NodeLauncher();
}

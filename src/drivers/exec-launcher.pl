#!/usr/bin/perl
# The exec driver's launcher (see exec-launcher.ts): a small long-lived process
# that forks, execs and reaps the wrappers of tasks, so that starting a task
# costs the agent a line on a pipe instead of a fork of the whole agent.
#
# It does nothing else. The agent has already made the task's cgroup (limits
# written) and its files (the exit file, stdout and stderr, anew with
# O_EXCL|O_NOFOLLOW, outside the task's cgroup) when it asks for a launch. What
# is left here is what only the child itself can do between fork and exec:
# setsid, stdin from /dev/null, open the two log files the agent made (by path,
# O_NOFOLLOW, and only if they are still the very files the agent made: same
# device and inode), chdir, join the cgroup by writing its own pid (as root,
# before it drops privileges: an unprivileged process may not move itself),
# setgroups/setgid/setuid, wait for the agent's go, exec.
#
# Protocol, one line each way per event. Fields are hex so that any byte may
# appear in paths, env and args; "~<key>" names a value sent before with K.
#   agent -> launcher:
#     K <key> <value>     remember a long value (the wrapper script) for fields "~<key>"
#     S <req> <gate> <cwd> <stdout> <stdout dev:ino> <stderr> <stderr dev:ino>
#       <uid> <gid> <groups, comma-separated> <join count> <cgroup.procs>...
#       <env count> <K=V>... <argv>...
#                         fork a wrapper; uid '' keeps the launcher's user; gate '1':
#                         the child waits for G (or C) before it execs
#     G <req>             go: the agent has what it needs of the child (its handle is saved)
#     C <req>             cancel: the child exits without running anything
#   launcher -> agent:
#     P <req> <pid>       forked
#     E <req> <message>   the child could not be set up (message hex); it exits 127
#     X <pid> <status>    the wrapper was reaped (wait status)
#   wrapper -> agent (fd 3, the same pipe): R <pid>
#
# Every line is written with one write(2) of less than PIPE_BUF bytes, so lines
# from the launcher, its children and the wrappers never interleave. No line is
# printed from a signal handler: SIGCHLD only wakes the loop (a byte on a pipe),
# and children are reaped by the loop itself, after their P line, so X never
# comes before P and no exit is missed by a handler racing a fork. A wake-up
# lost in the window before select() costs at most the loop's timeout.
# The launcher ignores SIGPIPE so an agent that went away does not take it
# down; it exits when its stdin closes, and the wrappers live on, reparented,
# leaving their exit status in the task dir as usual. A child still waiting
# for its go then sees the pipe close and exits without running the task.
use strict;
use warnings;
use POSIX ();
use Fcntl qw(O_WRONLY O_NOFOLLOW O_NONBLOCK O_NOCTTY F_GETFL F_SETFL);

$SIG{PIPE} = 'IGNORE';
# fds 3 and 4 from here on, for as long as the launcher lives; children replace 3 with the report pipe
pipe(my $wake_r, my $wake_w) or die "baton launcher: pipe: $!\n";
for my $fh ($wake_r, $wake_w) {
  my $fl = fcntl($fh, F_GETFL, 0) or die "baton launcher: fcntl: $!\n";
  fcntl($fh, F_SETFL, $fl | O_NONBLOCK) or die "baton launcher: fcntl: $!\n";
}
$SIG{CHLD} = sub { syswrite($wake_w, 'c') };

# one line, in one write of less than PIPE_BUF; a short write is finished (not atomic then, but never lost)
sub out {
  my ($fd, $line) = @_;
  while (length $line) {
    my $n = POSIX::write($fd, $line, length $line);
    if (!defined $n) {
      next if $! == POSIX::EINTR() || $! == POSIX::EAGAIN();
      return;
    }
    substr($line, 0, $n, '');
  }
}

my %go;     # req => write end of the child's go pipe
my %kids;   # pid => req
my %interned;

# in the child, after fork: set up and exec, or report why not and exit
sub child {
  my ($req, $gofh, $gow, $gate, $cwd, $out, $outid, $err, $errid, $uid, $gid, $groups, @rest) = @_;
  my $report = 1;
  my $fail = sub {
    my $msg = substr(shift, 0, 900);
    out($report, "E $req " . unpack('H*', $msg) . "\n");
    POSIX::_exit(127);
  };
  $SIG{CHLD} = 'DEFAULT';
  $SIG{PIPE} = 'DEFAULT';
  # the other children's go pipes are not ours to hold open
  for my $r (keys %go) { close $go{$r} }
  # nor is our own: the agent's going away must reach us as the pipe closing
  close $gow if defined $gow;
  my $gofd = defined $gofh ? fileno($gofh) : -1;
  # fd 3 becomes the report pipe (the agent's, for E here and the wrapper's ready line): keep the go pipe off it
  if ($gofd == 3) { $gofd = POSIX::dup(3); defined $gofd or $fail->("dup: $!") }
  close $wake_w;
  defined(POSIX::dup2(1, 3)) or $fail->("dup2: $!");
  $report = 3;
  POSIX::setsid();
  my @join = splice(@rest, 0, shift @rest);
  my @env = splice(@rest, 0, shift @rest);
  open(STDIN, '<', '/dev/null') or $fail->("cannot open /dev/null: $!");
  # the agent made both files anew; the task owns the dir and may have put something else there since
  for my $f ([$out, $outid, 1], [$err, $errid, 2]) {
    my ($path, $id, $fd) = @$f;
    sysopen(my $fh, $path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY) or $fail->("cannot open $path: $!");
    my @st = stat($fh);
    (@st && -f _ && "$st[0]:$st[1]" eq $id) or $fail->("$path is not the file made for the task");
    my $fl = fcntl($fh, F_GETFL, 0);
    defined $fl && fcntl($fh, F_SETFL, $fl & ~O_NONBLOCK) or $fail->("fcntl $path: $!");
    defined(POSIX::dup2(fileno($fh), $fd)) or $fail->("dup2: $!");
    close $fh;
  }
  chdir($cwd) or $fail->("cannot change into $cwd: $!");
  for my $procs (@join) {
    sysopen(my $fh, $procs, O_WRONLY) or $fail->("cannot join cgroup $procs: $!");
    defined(syswrite($fh, "$$\n")) or $fail->("cannot join cgroup $procs: $!");
    close $fh or $fail->("cannot join cgroup $procs: $!");
  }
  if ($uid ne '') {
    # $) with a list is setgroups(list) then setegid; then the real and saved ids with setgid/setuid
    $) = join(' ', $gid, split(/,/, $groups));
    POSIX::setgid($gid) or $fail->("setgid $gid: $!");
    POSIX::setuid($uid) or $fail->("setuid $uid: $!");
    ($< == $uid && $> == $uid && (split(/ /, $())[0] == $gid && (split(/ /, $)))[0] == $gid) or $fail->("could not become uid $uid gid $gid");
  }
  if ($gate) {
    my $b = '';
    my $n;
    do { $n = POSIX::read($gofd, $b, 1) } while (!defined $n && $! == POSIX::EINTR());
    # no go: the agent cancelled, or is gone before it saved anything of this run
    POSIX::_exit(0) unless $n && $b eq 'g';
    POSIX::close($gofd);
  }
  %ENV = map { split(/=/, $_, 2) } @env;
  { no warnings 'exec'; exec { $rest[0] } @rest; }
  $fail->("cannot run $rest[0]: $!");
}

sub start {
  my ($req, @f) = @_;
  my $gate = $f[0];
  my ($gor, $gow);
  if ($gate) {
    if (!pipe($gor, $gow)) { out(1, "E $req " . unpack('H*', "pipe: $!") . "\n"); return }
  }
  my $pid = fork;
  if (!defined $pid) { out(1, "E $req " . unpack('H*', "fork: $!") . "\n"); return }
  if ($pid == 0) { child($req, $gor, $gow, @f) }
  if ($gate) { close $gor; $go{$req} = $gow }
  $kids{$pid} = $req;
  out(1, "P $req $pid\n");
}

sub release {
  my ($req, $go) = @_;
  my $w = delete $go{$req} or return;
  syswrite($w, 'g') if $go;   # EPIPE when the child is gone already: nothing to do
  close $w;
}

sub reap {
  while ((my $p = waitpid(-1, POSIX::WNOHANG())) > 0) {
    my $status = $?;
    my $req = delete $kids{$p};
    next unless defined $req;
    # a child that failed or was cancelled before its go
    release($req, 0);
    out(1, "X $p $status\n");
  }
}

sub command {
  my ($line) = @_;
  # -1: empty trailing fields (an empty last argument) are fields too
  my ($op, $req, @f) = split(/ /, $line, -1);
  return unless defined $op && defined $req;
  if ($op eq 'K') { $interned{$req} = pack('H*', $f[0] // ''); return }
  if ($op eq 'G' || $op eq 'C') { release($req, $op eq 'G'); return }
  return unless $op eq 'S';
  start($req, map { /^~(\d+)$/ ? $interned{$1} : pack('H*', $_) } @f);
}

my $buf = '';
my $in = fileno(STDIN);
for (;;) {
  reap();
  my $rin = '';
  vec($rin, $in, 1) = 1;
  vec($rin, fileno($wake_r), 1) = 1;
  # with children out, wake now and then anyway: a SIGCHLD that came just before select() only sets a flag
  my $n = select(my $rout = $rin, undef, undef, %kids ? 0.25 : undef);
  next if $n <= 0;
  if (vec($rout, fileno($wake_r), 1)) { sysread($wake_r, my $drain, 4096) }
  next unless vec($rout, $in, 1);
  my $got = sysread(STDIN, $buf, 65536, length $buf);
  if (!defined $got) {
    next if $! == POSIX::EINTR() || $! == POSIX::EAGAIN();
    last;
  }
  last if $got == 0;
  while ((my $i = index($buf, "\n")) >= 0) {
    my $line = substr($buf, 0, $i);
    substr($buf, 0, $i + 1, '');
    command($line);
  }
}

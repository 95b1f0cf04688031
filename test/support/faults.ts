/**
 * The fault suite's tools (test/e2e/faults.test.ts, issue #12 "Never the same
 * run twice at once").
 *
 * 1. The judge, pure and unit-tested: every run of a sweep is a task that
 *    writes its own marker file, one per copy (named after the run and the
 *    alloc), with a `start` line, a `tick` line every TICK_MS while it works
 *    and an `end` line when it is done. From those files alone: which runs did
 *    not complete exactly once, which two copies of a run were alive at the
 *    same time, and which copies on a faulted node kept running past the
 *    moment the server replaced them.
 * 2. The faults: a server process that can be killed -9 and restarted on the
 *    same data dir and port (optionally on a small tmpfs that a dd'd file
 *    fills), agents started inside a network namespace joined to the host by a
 *    veth pair whose link is set down and up, and the processes a dead agent
 *    left behind (found by their BATON_NODE_ID), all cleaned up by the suite.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BatonClient } from '../../src/client/client.js';
import { freePort, TestAgent, TestCluster, waitFor, type Proc } from './cluster.js';

// ---------------------------------------------------------------------------
// The markers and their judge (pure)
// ---------------------------------------------------------------------------

/** how often a run writes a tick line; also the tolerance of the overlap check */
export const TICK_MS = 200;

/** the separator between the run and the alloc id in a marker file's name */
export const MARK_SEP = '~';

/**
 * The bash program of every run: one marker file per alloc, a `start`, a
 * `tick` every TICK_MS for $BATON_META_MS milliseconds, then `end`. Times are
 * $EPOCHREALTIME (wall clock, microseconds, no fork). A second start of the
 * same alloc (a restart in place) appends a second `start`, which the judge
 * counts as another copy.
 */
export const MARKER_SCRIPT = [
  `f="$MARKS/$BATON_META_RUN${MARK_SEP}$BATON_ALLOC_ID"`,
  'echo "node $BATON_NODE_ID" >> "$f"',
  't=$EPOCHREALTIME',
  'echo "start $t" >> "$f"',
  'stop=$(( ${t/./} + BATON_META_MS * 1000 ))',
  `while t=$EPOCHREALTIME; (( \${t/./} < stop )); do sleep ${TICK_MS / 1000}; echo "tick $EPOCHREALTIME" >> "$f"; done`,
  'echo "end $EPOCHREALTIME" >> "$f"',
].join('\n');

/** the parameterized job of the sweeps: 100m cpu and 16Mi a run, so a 2-cpu agent runs 20 at once */
export function sweepJobSpec(name: string, marks: string): string {
  return [
    `name: ${name}`,
    'type: batch',
    'parameterized:',
    '  meta_required: [run, ms]',
    'tasks:',
    '  - name: main',
    '    driver: exec',
    '    command: /bin/bash',
    `    args: ["-c", ${JSON.stringify(MARKER_SCRIPT)}]`,
    `    env: { MARKS: ${JSON.stringify(marks)} }`,
    '    kill_timeout: 1s',
    '    resources: { cpu: 100m, memory: 16Mi }',
    '',
  ].join('\n');
}

/** One life of a task: from its `start` line to its last line. Times in ms since the epoch. */
export interface Copy {
  run: string;
  allocId: string;
  /** 0 for the first start in the alloc's file, 1 for a second start (restart in place) ... */
  seq: number;
  node: string;
  start: number;
  /** the last line written (an `end`, or the last tick of a copy that was killed) */
  last: number;
  ended: boolean;
  ticks: number;
}

function copyName(c: Copy): string {
  return `${c.allocId}${c.seq ? `#${c.seq}` : ''}`;
}

function lineTime(v: string | undefined): number | undefined {
  // $EPOCHREALTIME: seconds.microseconds; anything else is a line torn by a kill
  if (!v || !/^\d{9,}\.\d{6}$/.test(v)) return undefined;
  return Number(v) * 1000;
}

/**
 * The copies in one marker file. A copy killed before its first time stamp
 * (only its `node` line, or a half-written line) has no interval and is left
 * out: it did no work that could overlap.
 */
export function parseMarkerFile(fileName: string, text: string): Copy[] {
  const at = fileName.indexOf(MARK_SEP);
  const run = at < 0 ? fileName : fileName.slice(0, at);
  const allocId = at < 0 ? '' : fileName.slice(at + 1);
  const copies: Copy[] = [];
  let node = '';
  let cur: Copy | undefined;
  for (const line of text.split('\n')) {
    const [kind, value] = line.trim().split(/\s+/);
    if (kind === 'node') {
      node = value ?? '';
      continue;
    }
    const t = lineTime(value);
    if (t === undefined) continue;
    if (kind === 'start') {
      cur = { run, allocId, seq: copies.length, node, start: t, last: t, ended: false, ticks: 0 };
      copies.push(cur);
    } else if (cur && t >= cur.start && (kind === 'tick' || kind === 'end')) {
      cur.last = Math.max(cur.last, t);
      if (kind === 'tick') cur.ticks++;
      else cur.ended = true;
    }
  }
  return copies;
}

export async function readMarkers(dir: string): Promise<Copy[]> {
  const out: Copy[] = [];
  for (const f of await readdir(dir)) {
    if (!f.includes(MARK_SEP)) continue;
    out.push(...parseMarkerFile(f, await readFile(join(dir, f), 'utf8')));
  }
  return out;
}

/**
 * A stretch in which a node could not tell the server what its tasks did
 * (dead, or cut off): a copy there that completed in it may be completed a
 * second time by its replacement, which is unavoidable (at least once), as
 * long as the two never overlap.
 */
export interface BlindWindow {
  node: string;
  from: number;
  to: number;
  why: string;
}

/**
 * Copies on `node` that started before `startedBefore` must have stopped
 * by `by` (the moment the server replaced them: their node marked down).
 */
export interface StopBound {
  node: string;
  startedBefore: number;
  by: number;
  why: string;
}

export interface JudgeOptions {
  tickMs?: number;
  blind?: BlindWindow[];
  bounds?: StopBound[];
}

export interface Verdict {
  runs: number;
  copies: number;
  /** runs with no completed copy */
  neverCompleted: Array<{ run: string; copies: Copy[] }>;
  /** runs completed more than once, not explained by a blind window */
  completedTwice: Array<{ run: string; completed: Copy[] }>;
  /** two copies of one run alive at the same time for longer than a tick */
  overlaps: Array<{ run: string; a: Copy; b: Copy; overlapMs: number }>;
  /** copies of a faulted node that kept running past their bound */
  pastBound: Array<{ copy: Copy; bound: StopBound; pastMs: number }>;
  /** marker files of runs that are not in the sweep */
  unknownRuns: string[];
  /** extra completions explained by a blind window (reported, not a failure) */
  excused: Array<{ run: string; copy: Copy; window: BlindWindow }>;
}

export function judge(copies: Copy[], expectedRuns: string[], opts: JudgeOptions = {}): Verdict {
  const tick = opts.tickMs ?? TICK_MS;
  const byRun = new Map<string, Copy[]>(expectedRuns.map((r) => [r, []]));
  const unknown = new Set<string>();
  for (const c of copies) {
    const list = byRun.get(c.run);
    if (list) list.push(c);
    else unknown.add(c.run);
  }
  const v: Verdict = {
    runs: expectedRuns.length,
    copies: copies.length,
    neverCompleted: [],
    completedTwice: [],
    overlaps: [],
    pastBound: [],
    unknownRuns: [...unknown].sort(),
    excused: [],
  };
  for (const [run, list] of byRun) {
    list.sort((a, b) => a.start - b.start);
    const completed = list.filter((c) => c.ended);
    if (completed.length === 0) v.neverCompleted.push({ run, copies: list });
    else if (completed.length > 1) {
      // one completion is the one that counts; each other must lie in a blind window
      const unexplained: Copy[] = [];
      for (const c of completed) {
        const w = (opts.blind ?? []).find((b) => b.node === c.node && c.last >= b.from && c.last <= b.to);
        if (w) v.excused.push({ run, copy: c, window: w });
        else unexplained.push(c);
      }
      // every completion excused: the last one (the replacement's) is the one that counts
      if (unexplained.length === 0) v.excused.pop();
      if (unexplained.length > 1) v.completedTwice.push({ run, completed });
    }
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const a = list[i];
        const b = list[j];
        const overlapMs = Math.min(a.last, b.last) - Math.max(a.start, b.start);
        if (overlapMs > tick) v.overlaps.push({ run, a, b, overlapMs });
      }
    }
  }
  for (const bound of opts.bounds ?? []) {
    for (const c of copies) {
      if (c.node !== bound.node || c.start >= bound.startedBefore) continue;
      const pastMs = c.last - bound.by;
      if (pastMs > tick) v.pastBound.push({ copy: c, bound, pastMs });
    }
  }
  return v;
}

/** the problems of a verdict, one line each (empty: all good) */
export function problems(v: Verdict): string[] {
  const out: string[] = [];
  for (const r of v.neverCompleted)
    out.push(`run ${r.run} never completed (${r.copies.length} copies: ${r.copies.map(describeCopy).join('; ') || 'none started'})`);
  for (const r of v.completedTwice) out.push(`run ${r.run} completed ${r.completed.length} times: ${r.completed.map(describeCopy).join('; ')}`);
  for (const o of v.overlaps) {
    out.push(
      `run ${o.run}: copies ${copyName(o.a)} and ${copyName(o.b)} overlapped ${(o.overlapMs / 1000).toFixed(2)} s: ${describeCopy(o.a)} | ${describeCopy(o.b)}`,
    );
  }
  for (const p of v.pastBound) {
    out.push(
      `run ${p.copy.run}: copy ${copyName(p.copy)} on node ${p.copy.node} ran ${(p.pastMs / 1000).toFixed(2)} s past ${p.bound.why} (${iso(p.bound.by)}): ${describeCopy(p.copy)}`,
    );
  }
  for (const r of v.unknownRuns) out.push(`marker files of run ${r}, which is not in the sweep`);
  return out;
}

export function describeCopy(c: Copy): string {
  return `alloc ${copyName(c)} on ${c.node || '?'} ${iso(c.start)} .. ${iso(c.last)} (${((c.last - c.start) / 1000).toFixed(2)} s, ${c.ended ? 'ended' : 'killed, no end line'})`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}

export function summary(v: Verdict): string {
  const lines = [`${v.runs} runs, ${v.copies} copies`];
  for (const e of v.excused) lines.push(`excused: run ${e.run} completed again by ${describeCopy(e.copy)} within ${e.window.why}`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------
// Processes: a server that can be killed and restarted, agents in a netns
// ---------------------------------------------------------------------------

const CLI = resolve(import.meta.dirname, '../../dist/cli/main.js');

/** like startProc in cluster.ts, for any command (ip netns exec ... node ...) */
export function spawnProc(cmd: string, args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, output: () => out, exited };
}

export interface FaultClusterOptions {
  heartbeatTtl: string;
  /** the address to bind (default 127.0.0.1); a veth address for the partition scenario */
  host?: string;
  /** a data dir made beforehand (a tmpfs mount point); default a new temp dir */
  dataDir?: string;
}

/**
 * A TestCluster whose server runs at --log-level info and can be killed -9 and
 * started again on the same data dir and port; every server process's output
 * is kept for the failure report.
 */
export class FaultCluster extends TestCluster {
  readonly servers: Proc[] = [];
  private serverArgs: string[] = [];

  static async create(opts: FaultClusterOptions): Promise<FaultCluster> {
    const c = new FaultCluster();
    const dir = opts.dataDir ?? (await c.tempDir('server'));
    c.dataDir = dir;
    const port = await freePort();
    c.serverArgs = ['server', '--data-dir', dir, '--bind', `${opts.host ?? '127.0.0.1'}:${port}`, '--heartbeat-ttl', opts.heartbeatTtl, '--log-level', 'info'];
    await c.startServer();
    const info = JSON.parse(await readFile(join(dir, 'server.json'), 'utf8')) as {
      url: string;
      joinToken: string;
      adminToken: string;
      caFile: string;
      caFingerprint: string;
    };
    c.url = info.url;
    c.joinToken = info.joinToken;
    c.adminToken = info.adminToken;
    c.caFile = info.caFile;
    c.caPem = await readFile(info.caFile, 'utf8');
    c.caFingerprint = info.caFingerprint;
    c.client = new BatonClient({ baseUrl: c.url, token: c.adminToken, ca: c.caPem });
    await waitFor('server to answer', () => c.client.status());
    return c;
  }

  /** starts the server process (again) and waits until server.json is there and, on a restart, the API answers */
  async startServer(): Promise<void> {
    const p = spawnProc(process.execPath, [CLI, ...this.serverArgs], { HOME: this.dataDir });
    this.server = p;
    this.servers.push(p);
    await waitFor('server.json', async () => {
      if (p.child.exitCode !== null) throw new Error(`server exited: ${p.output()}`);
      return JSON.parse(await readFile(join(this.dataDir, 'server.json'), 'utf8')) as unknown;
    });
    if (this.client) await waitFor('the restarted server to answer', () => p.child.exitCode === null && this.client.status(), 30_000);
  }

  /** like the machine losing power: no goodbye */
  async killServer(): Promise<void> {
    const p = this.server;
    if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
    p.child.kill('SIGKILL');
    await p.exited;
  }

  /** an exec agent with room for 20 runs of 100m; inside `netns` when given */
  async addFaultAgent(name: string, netns?: string): Promise<FaultAgent> {
    const a = new FaultAgent(this, { name, cpu: '2', memory: '1Gi', drivers: 'exec', extra: ['--log-level', 'info'] }, await this.tempDir(`agent-${name}`));
    a.netns = netns;
    this.agents.push(a);
    a.start();
    await a.ready();
    return a;
  }

  /**
   * TestCluster.stop with every step bounded: a request the server never
   * answers or an agent that ignores SIGTERM must not hang the suite (each is
   * reported on stderr), and whatever is left is SIGKILLed.
   */
  override async stop(): Promise<void> {
    const step = async (what: string, ms: number, p: Promise<unknown>): Promise<void> => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), ms)));
      const r = await Promise.race([
        p.then(
          () => 'ok',
          () => 'ok',
        ),
        late,
      ]);
      clearTimeout(timer);
      if (r === 'late') console.warn(`[faults] cleanup: ${what} did not finish within ${ms} ms`);
    };
    const alive = (p: Proc | undefined) => p !== undefined && p.child.exitCode === null && p.child.signalCode === null;
    if (alive(this.server)) {
      await step(
        'stopping every job',
        15_000,
        (async () => {
          for (const j of await this.client.listJobs('*')) await this.client.stopJob(j.id, j.namespace).catch(() => undefined);
        })(),
      );
      await step(
        'the allocs to stop',
        20_000,
        waitFor(
          'allocs to stop',
          async () => {
            const allocs = await this.client.listAllocs({});
            return allocs.every((a) => a.clientStatus !== 'running' && a.clientStatus !== 'pending') || undefined;
          },
          20_000,
        ),
      );
    }
    for (const a of this.agents) {
      if (!alive(a.proc)) continue;
      a.proc!.child.kill('SIGTERM');
      await step(`agent ${a.opts.name} to exit on SIGTERM`, 10_000, a.proc!.exited);
      if (alive(a.proc)) a.proc!.child.kill('SIGKILL');
    }
    if (alive(this.server)) {
      this.server!.child.kill('SIGTERM');
      await step('the server to exit on SIGTERM', 10_000, this.server!.exited);
      if (alive(this.server)) this.server!.child.kill('SIGKILL');
    }
    // the rest (cgroups, temp dirs) as TestCluster does it; nothing is left for it to wait on
    await step('TestCluster.stop', 30_000, super.stop());
  }

  /** every process's output, for a failure report */
  logs(): Array<{ name: string; text: string }> {
    const out = this.servers.map((p, i) => ({ name: `server#${i + 1}`, text: p.output() }));
    for (const a of this.agents) if (a instanceof FaultAgent) out.push(...a.procs.map((p, i) => ({ name: `agent ${a.opts.name}#${i + 1}`, text: p.output() })));
    return out;
  }
}

/**
 * A TestAgent that keeps the output of each of its processes and may run
 * inside a network namespace (`ip netns exec`, which execs node: the pid is
 * the agent's), dialling the server at `serverUrl`.
 */
export class FaultAgent extends TestAgent {
  readonly procs: Proc[] = [];
  netns: string | undefined;
  nodeId = '';

  override start(): void {
    if (!this.netns) {
      super.start();
      this.procs.push(this.proc!);
      return;
    }
    const a = this.opts;
    const args = ['netns', 'exec', this.netns, process.execPath, CLI, 'agent', '--server', this.cluster.url, '--data-dir', this.dataDir, '--name', a.name];
    if (a.cpu) args.push('--cpu', a.cpu);
    if (a.memory) args.push('--memory', a.memory);
    if (a.drivers) args.push('--drivers', a.drivers);
    args.push(...(a.extra ?? []));
    this.proc = spawnProc('ip', args, { BATON_JOIN_TOKEN: this.cluster.joinToken, ...a.env });
    this.procs.push(this.proc);
  }

  override async ready(): Promise<string> {
    this.nodeId = await super.ready();
    return this.nodeId;
  }
}

// ---------------------------------------------------------------------------
// Tasks a dead agent left behind
// ---------------------------------------------------------------------------

/** pids of the processes whose environment has name=value (BATON_NODE_ID, BATON_ALLOC_ID of a task) */
export function taskPids(name: string, value: string): number[] {
  if (!value) return [];
  const want = `${name}=${value}`;
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/environ`, 'latin1').split('\0').includes(want)) pids.push(Number(e));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return pids;
}

/** pids of the processes whose environment says they are tasks of this node */
export function nodeTaskPids(nodeId: string): number[] {
  return taskPids('BATON_NODE_ID', nodeId);
}

/** SIGKILL what a dead agent's tasks left running (by pid: only processes of this suite's nodes) */
export function killNodeTasks(nodeIds: string[]): void {
  for (const id of nodeIds) {
    for (const pid of nodeTaskPids(id)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone meanwhile */
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Root-only faults: network namespaces and a full disk
// ---------------------------------------------------------------------------

/**
 * Root and iproute2 (netns scenario) / mount (tmpfs scenario). Both are
 * mandatory when BATON_REQUIRE_NETNS=1 (CI): a missing capability then fails
 * the suite instead of skipping these scenarios.
 */
export const rootFaultsRequired = process.env.BATON_REQUIRE_NETNS === '1';

function which(cmd: string): boolean {
  return ['/usr/sbin', '/usr/bin', '/sbin', '/bin'].some((d) => existsSync(join(d, cmd)));
}

export function rootFaultsMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root';
  for (const cmd of ['ip', 'mount', 'umount']) if (!which(cmd)) return `${cmd} is not installed`;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'pipe' });
  } catch (err) {
    return `ip netns does not work: ${(err as Error).message}`;
  }
  return undefined;
}

/** true when the netns and tmpfs scenarios run; throws under BATON_REQUIRE_NETNS=1 when they cannot */
export function rootFaultsEnabled(): boolean {
  const missing = rootFaultsMissing();
  if (missing && rootFaultsRequired) throw new Error(`BATON_REQUIRE_NETNS=1 but the netns/tmpfs fault scenarios cannot run: ${missing}`);
  return !missing;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

/**
 * A network namespace joined to the host by a veth pair: hostIp on the host
 * side, nsIp inside. Names and the /30 are derived from the pid so two runs
 * never share them.
 */
export class Netns {
  readonly name: string;
  readonly hostIf: string;
  readonly nsIf: string;
  readonly hostIp: string;
  readonly nsIp: string;

  constructor(tag = process.pid) {
    this.name = `baton-f${tag}`;
    this.hostIf = `btfh${tag}`.slice(0, 15);
    this.nsIf = `btfn${tag}`.slice(0, 15);
    const octet = tag % 64;
    this.hostIp = `10.231.${octet}.1`;
    this.nsIp = `10.231.${octet}.2`;
  }

  create(): void {
    this.destroy();
    ip('netns', 'add', this.name);
    ip('link', 'add', this.hostIf, 'type', 'veth', 'peer', 'name', this.nsIf);
    ip('link', 'set', this.nsIf, 'netns', this.name);
    ip('addr', 'add', `${this.hostIp}/30`, 'dev', this.hostIf);
    ip('link', 'set', this.hostIf, 'up');
    ip('netns', 'exec', this.name, 'ip', 'addr', 'add', `${this.nsIp}/30`, 'dev', this.nsIf);
    ip('netns', 'exec', this.name, 'ip', 'link', 'set', this.nsIf, 'up');
    ip('netns', 'exec', this.name, 'ip', 'link', 'set', 'lo', 'up');
  }

  /** the namespace's side of the cable goes down: the agent cannot reach the server, nor the server it */
  partition(): void {
    ip('netns', 'exec', this.name, 'ip', 'link', 'set', this.nsIf, 'down');
  }

  heal(): void {
    ip('netns', 'exec', this.name, 'ip', 'link', 'set', this.nsIf, 'up');
  }

  /** removes the namespace (and with it the veth pair); safe to call twice */
  destroy(): void {
    try {
      ip('netns', 'del', this.name);
    } catch {
      /* not there */
    }
    try {
      ip('link', 'del', this.hostIf);
    } catch {
      /* went with the namespace */
    }
  }
}

/** a small tmpfs at dir (made 0700, as the server's data dir is) */
export function mountTmpfs(dir: string, size: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
}

export function unmountTmpfs(dir: string): void {
  try {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  } catch {
    /* not mounted */
  }
}

/** fills the file system of dir to the last block with one file; returns its path */
export function fillDisk(dir: string): string {
  const file = join(dir, 'filler');
  for (const bs of ['1M', '4k']) {
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${file}`, `bs=${bs}`, 'oflag=append', 'conv=notrunc'], { stdio: 'pipe' });
    } catch {
      /* dd stops with "No space left on device": that is the point */
    }
  }
  return file;
}

export function freeBytes(dir: string): number {
  const out = execFileSync('df', ['-B1', '--output=avail', dir], { encoding: 'utf8' });
  return Number(out.trim().split('\n').pop());
}

// ---------------------------------------------------------------------------
// Reports
// ---------------------------------------------------------------------------

/** the warnings and errors of a JSON-lines log, and its last lines, for a failure message */
export function logDigest(text: string, tail = 40): string {
  const lines = text.split('\n').filter(Boolean);
  const loud = lines.filter((l) => /"level":(4|5|6)\d/.test(l) || !l.startsWith('{'));
  const pick = [...new Set([...loud.slice(-60), ...lines.slice(-tail)])];
  return pick.join('\n');
}

/** writes every log to /tmp/baton-faults-<pid>/<scenario>/ and returns the dir */
export async function saveLogs(scenario: string, logs: Array<{ name: string; text: string }>): Promise<string> {
  const dir = join(tmpdir(), `baton-faults-${process.pid}`, scenario.replace(/[^a-z0-9-]+/gi, '-'));
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (const l of logs) await writeFile(join(dir, `${l.name.replace(/[^a-z0-9-#]+/gi, '-')}.log`), l.text);
  return dir;
}

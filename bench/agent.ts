/**
 * bench/agent: the memory of one real `baton agent` (bin/baton.js, the exec
 * driver only) on a real server, idle once registered and then with ten
 * running allocs (a batch job of count 10 running `sleep`), beside a baseline
 * measured in the same windows: `node -e "setInterval(()=>{},1000)"`, a Node
 * process that does nothing but stay alive. The server's memory is shown for
 * reference.
 *
 * The figure held to the aim is the resident set (VmRSS of
 * /proc/<pid>/status) of the agent's own process: the pid this benchmark
 * spawned as `node bin/baton.js agent` (bin/baton.js imports dist/ in the
 * same process, there is no wrapper in between; the benchmark checks that
 * pid's cmdline). What the agent started is listed apart: its helpers (the
 * exec driver's long-lived launcher, perl where installed, and the
 * watchdog the agent starts with its first task) and the tasks
 * (every process in a task's cgroup under /sys/fs/cgroup/.../baton/),
 * which a task's own limits account for, not the agent's.
 *
 * Each window is --seconds long, sampled every --every ms; the table shows
 * the largest sample and the last. The agent, the baseline and the server
 * are started with bench/support/report-memory.cjs preloaded, so the table
 * can also say what the resident set is made of: V8's heap (used / total),
 * memory outside the heap that V8 knows of (external: buffers and the
 * like), and the rest (Node and V8's code, native allocations and the
 * pages of the node binary and libraries it touched; RssFile of the status
 * file is the part backed by files).
 *
 *   npm run bench:agent -- [--seconds 6] [--every 200] [--allocs 10]
 *   (that is: npx tsc -p tsconfig.build.json && npx tsx bench/agent.ts ...)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import Table from 'cli-table3';
import { TestAgent, TestCluster, waitFor, type Proc } from '../test/support/cluster.js';
import { processes } from './support/procs.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '6' },
    every: { type: 'string', default: '200' },
    allocs: { type: 'string', default: '10' },
    // '' (the default): every driver that works here, as a plain `baton agent` runs; e.g. --drivers exec
    drivers: { type: 'string', default: '' },
  },
});
const SECONDS = Number(args.seconds);
const EVERY_MS = Number(args.every);
const ALLOCS = Number(args.allocs);
/** the aim of issue #14: the agent's own resident set */
const AIM_MB = 64;

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/baton.js');
const PRELOAD = join(ROOT, 'bench/support/report-memory.cjs');
const MB = 1024 * 1024;

interface Status {
  /** bytes */
  rss: number;
  hwm: number;
  anon: number;
  file: number;
}

function status(pid: number): Status | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM'), anon: kb('RssAnon'), file: kb('RssFile') };
}

/** every process below pid (not pid itself) */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const p of processes()) children.set(p.stat.ppid, [...(children.get(p.stat.ppid) ?? []), p.pid]);
  const out: number[] = [];
  const todo = [pid];
  while (todo.length) {
    for (const c of children.get(todo.pop()!) ?? []) {
      out.push(c);
      todo.push(c);
    }
  }
  return out;
}

/** a process in a task's cgroup (the exec driver puts each task's wrapper in …/baton/<node>/<alloc>…) */
function isTask(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes('/baton/');
  } catch {
    return false;
  }
}

/** the processes' names and how many of each: "perl ×1, node ×1" */
function commands(pids: number[]): string {
  const n = new Map<string, number>();
  for (const p of pids) {
    try {
      const c = readFileSync(`/proc/${p}/comm`, 'utf8').trim();
      n.set(c, (n.get(c) ?? 0) + 1);
    } catch {
      /* gone */
    }
  }
  return [...n].map(([c, k]) => `${c} ×${k}`).join(', ');
}

interface MemoryDoc {
  usage: NodeJS.MemoryUsage;
  heap: { total: number; used: number; external: number };
}

function memoryDoc(file: string): MemoryDoc | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as MemoryDoc;
  } catch {
    return undefined;
  }
}

interface Watched {
  label: string;
  pid: () => number[];
  memoryFile?: string;
  aim?: boolean;
}

interface Window {
  label: string;
  samples: Map<string, number[]>;
  last: Map<string, { status?: Status; memory?: MemoryDoc; count: number; names?: string }>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function sampleWindow(label: string, watched: Watched[]): Promise<Window> {
  const w: Window = { label, samples: new Map(watched.map((x) => [x.label, []])), last: new Map() };
  const end = Date.now() + SECONDS * 1000;
  while (Date.now() < end) {
    for (const x of watched) {
      const pids = x.pid();
      const sts = pids.map(status).filter((s): s is Status => s !== undefined);
      const sum = (k: keyof Status): number => sts.reduce((a, s) => a + s[k], 0);
      w.samples.get(x.label)!.push(sum('rss'));
      w.last.set(x.label, {
        status: sts.length ? { rss: sum('rss'), hwm: sum('hwm'), anon: sum('anon'), file: sum('file') } : undefined,
        memory: x.memoryFile ? memoryDoc(x.memoryFile) : undefined,
        count: sts.length,
        names: commands(pids),
      });
    }
    await sleep(EVERY_MS);
  }
  return w;
}

const job = (name: string, count: number): string =>
  `name: ${name}\ntype: batch\ncount: ${count}\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sleep\n    args: ["600"]\n    resources: { cpu: 100m, memory: 32Mi }\n`;

async function main(): Promise<void> {
  const memDir = mkdtempSync(join(tmpdir(), 'baton-bench-agent-'));
  const baselineFile = join(memDir, 'baseline.json');
  const serverFile = join(memDir, 'server.json');
  // the server with the preload too (NODE_OPTIONS: TestCluster starts it), for its breakdown
  const cluster = await TestCluster.start({ heartbeatTtl: '30s', env: { NODE_OPTIONS: `--require ${PRELOAD}`, BATON_BENCH_MEMORY_FILE: serverFile } });
  let baseline: ReturnType<typeof spawn> | undefined;
  try {
    const serverPid = cluster.server!.child.pid!;

    baseline = spawn(process.execPath, ['--require', PRELOAD, '-e', 'setInterval(()=>{},1000)'], {
      env: { ...process.env, BATON_BENCH_MEMORY_FILE: baselineFile },
      stdio: 'ignore',
    });
    const baselinePid = baseline.pid!;

    const dataDir = await cluster.tempDir('agent-bench');
    const agentFile = join(memDir, 'agent.json');
    const argv = [
      '--require',
      PRELOAD,
      BIN,
      'agent',
      '--server',
      cluster.url,
      '--data-dir',
      dataDir,
      '--name',
      'bench',
      ...(args.drivers ? ['--drivers', args.drivers] : []),
      '--log-level',
      'warn',
    ];
    const child = spawn(process.execPath, argv, {
      env: { ...process.env, BATON_JOIN_TOKEN: cluster.joinToken, BATON_BENCH_MEMORY_FILE: agentFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const proc: Proc = { child, output: () => out, exited: new Promise((r) => child.on('exit', (code) => r(code))) };
    // handed to the cluster, which stops it (SIGTERM) and removes its cgroups at the end
    const agent = new TestAgent(cluster, { name: 'bench', ...(args.drivers ? { drivers: args.drivers } : {}) }, dataDir);
    agent.proc = proc;
    cluster.agents.push(agent);
    await agent.ready();
    const agentPid = child.pid!;
    const cmdline = readFileSync(`/proc/${agentPid}/cmdline`, 'utf8').split('\0');
    if (!cmdline.includes(BIN) || !cmdline.includes('agent')) throw new Error(`pid ${agentPid} is not the agent: ${cmdline.join(' ')}`);

    const watched: Watched[] = [
      { label: 'node -e "setInterval(()=>{},1000)" (baseline)', pid: () => [baselinePid], memoryFile: baselineFile },
      { label: 'baton agent, its own process', pid: () => [agentPid], memoryFile: agentFile, aim: true },
      { label: "the agent's helpers (outside task cgroups), summed", pid: () => descendants(agentPid).filter((p) => !isTask(p)) },
      { label: 'the tasks (wrappers and commands), summed', pid: () => descendants(agentPid).filter(isTask) },
      { label: 'baton server (reference)', pid: () => [serverPid], memoryFile: serverFile },
    ];

    process.stderr.write(`agent: idle after registration, ${SECONDS} s\n`);
    const idle = await sampleWindow('idle, registered', watched);

    process.stderr.write(`agent: ${ALLOCS} running allocs (sleep 600)\n`);
    await cluster.client.submitJob(job('bench-agent-memory', ALLOCS), 'bench.yaml');
    await waitFor(
      `${ALLOCS} allocs to run`,
      async () => {
        const d = await cluster.client.getJob('bench-agent-memory');
        if (d.summary.allocs.failed > 0) throw new Error(`${d.summary.allocs.failed} allocs failed`);
        return d.summary.allocs.running >= ALLOCS || undefined;
      },
      60_000,
      100,
    );
    const busy = await sampleWindow(`${ALLOCS} running allocs`, watched);

    const mb = (b: number | undefined): string => (b === undefined ? '' : `${(b / MB).toFixed(1)} MB`);
    const t = new Table({
      head: [
        'process',
        'window',
        'RSS max',
        'RSS last',
        'last / baseline',
        'RssAnon / RssFile',
        'V8 heap used / total',
        'external (ArrayBuffers)',
        'rest of RSS',
        `aim ≤ ${AIM_MB} MB`,
      ],
      style: { head: [], border: [] },
    });
    for (const w of [idle, busy]) {
      const baseLast = w.last.get(watched[0].label)?.status?.rss ?? NaN;
      for (const x of watched) {
        const s = w.samples.get(x.label)!;
        const last = w.last.get(x.label);
        const st = last?.status;
        const m = last?.memory;
        const label = x.label.includes('summed') ? `${x.label} (${last?.count ?? 0} processes${last?.names ? `: ${last.names}` : ''})` : x.label;
        const max = Math.max(...s);
        t.push([
          label,
          w.label,
          mb(max),
          mb(st?.rss ?? 0),
          st && x.pid().length && !x.label.includes('summed') ? `${(st.rss / baseLast).toFixed(2)}x` : '',
          st ? `${mb(st.anon)} / ${mb(st.file)}` : '',
          m ? `${mb(m.usage.heapUsed)} / ${mb(m.usage.heapTotal)}` : '',
          m ? `${mb(m.usage.external)} (${mb(m.usage.arrayBuffers)})` : '',
          m && st ? mb(st.rss - m.usage.heapTotal - m.usage.external) : '',
          x.aim ? (max <= AIM_MB * MB ? 'met' : 'missed') : '',
        ]);
      }
    }
    process.stdout.write(`${t.toString()}\n`);
    process.stdout.write(
      `aim (issue #14): the agent's own process at most ${AIM_MB} MB resident, idle and with ${ALLOCS} running allocs (RSS max over ${SECONDS} s, sampled every ${EVERY_MS} ms)\n`,
    );
    process.stdout.write(
      `VmRSS and RssAnon / RssFile from /proc/<pid>/status; heap and external from process.memoryUsage() in the process (bench/support/report-memory.cjs, the last report of the window); rest = RSS - heap total - external\n`,
    );
  } finally {
    baseline?.kill('SIGTERM');
    await cluster.stop();
    rmSync(memDir, { recursive: true, force: true });
  }
}

await main();

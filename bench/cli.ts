/**
 * bench/cli: how long the `baton` command takes, and how much memory, beside
 * `node -e 0` measured in the same run: `baton --version`, `baton job ls`
 * against a real server holding a few jobs, and a submit through
 * `baton run FILE` (which returns once the server has taken the job; --wait
 * is what follows it). The same submit is timed two more ways, so what is
 * the CLI's and what is the server's can be told apart:
 *
 * - a separate Node process that only reads the file and POSTs it to
 *   /v1/jobs with Node's own https module (bench/support/http-submit.mjs):
 *   the floor under `baton run`, Node's start and a TLS handshake included;
 * - the same POST from this process, on a new TLS connection each time and
 *   on one kept alive: no process starts, so the server's share alone.
 *
 * Every command runs as a real process through bin/baton.js, with the
 * server's URL, admin token and CA in BATON_ADDR / BATON_TOKEN /
 * BATON_CA_FILE and HOME and the working directory an empty temp dir (no
 * saved configuration is read). The runs are interleaved (one of each
 * command per round, after --warmup rounds) so that the load of a shared
 * machine falls on all of them alike. Wall time is from spawn to the
 * child's exit and closed pipes; peak RSS is getrusage's maxRSS as the
 * child reports it on exit (bench/support/report-usage.cjs, preloaded
 * with --require), in --rss-runs more runs of their own, so the preload
 * never weighs on the timed runs.
 *
 *   npm run bench:cli -- [--runs 20] [--warmup 2] [--rss-runs 3] [--jobs 5]
 *   (that is: npm run build && npx tsx bench/cli.ts ...; runs dist/ through bin/baton.js)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request, type RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import Table from 'cli-table3';
import { TestCluster } from '../test/support/cluster.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '2' },
    'rss-runs': { type: 'string', default: '3' },
    jobs: { type: 'string', default: '5' },
  },
});
const RUNS = Number(args.runs);
const WARMUP = Number(args.warmup);
const RSS_RUNS = Number(args['rss-runs']);
const JOBS = Number(args.jobs);
/** the aim of issue #14: every CLI command within this of `node -e 0` */
const AIM = 1.5;

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/baton.js');
const PRELOAD = join(ROOT, 'bench/support/report-usage.cjs');
const HTTP_SUBMIT = join(ROOT, 'bench/support/http-submit.mjs');

const jobText = (name: string) =>
  `name: ${name}\ntype: batch\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n    resources: { cpu: 100m, memory: 32Mi }\n`;

interface Command {
  label: string;
  /** argv after the node binary */
  argv: string[];
  /** a CLI command, held to the aim */
  cli: boolean;
}

interface Sample {
  ms: number;
  /** KiB; only in the runs with the preload */
  maxRssKb?: number;
}

function runOnce(cmd: Command, env: Record<string, string>, cwd: string, usageFile?: string): Promise<Sample> {
  const argv = usageFile ? ['--require', PRELOAD, ...cmd.argv] : cmd.argv;
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, argv, {
      cwd,
      env: { ...env, ...(usageFile ? { BATON_BENCH_USAGE_FILE: usageFile } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', rej);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      if (code !== 0) {
        rej(new Error(`${cmd.label} exited with ${code}: ${out}`));
        return;
      }
      const sample: Sample = { ms };
      if (usageFile) sample.maxRssKb = Number(readFileSync(usageFile, 'utf8'));
      res(sample);
    });
  });
}

/** POST /v1/jobs from this process; agent false: a new TLS connection for this request */
function postJob(cluster: TestCluster, source: string, agent: Agent | false): Promise<number> {
  const body = JSON.stringify({ source, filename: 'job.yaml' });
  const opts: RequestOptions = {
    method: 'POST',
    agent,
    ca: cluster.caPem,
    headers: { authorization: `Bearer ${cluster.adminToken}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
  };
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const req = request(new URL('/v1/jobs', cluster.url), opts, (r) => {
      let text = '';
      r.setEncoding('utf8');
      r.on('data', (d) => (text += d));
      r.on('end', () => {
        if (!r.statusCode || r.statusCode >= 300) rej(new Error(`POST /v1/jobs: HTTP ${r.statusCode}: ${text}`));
        else res(performance.now() - t0);
      });
    });
    req.on('error', rej);
    req.end(body);
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'baton-bench-cli-'));
  const cluster = await TestCluster.start({ heartbeatTtl: '30s' });
  try {
    for (let i = 0; i < JOBS; i++) await cluster.client.submitJob(jobText(`listed-${i}`), 'listed.yaml');
    // one file per way of submitting, each resubmitted unchanged: the listing keeps its size
    // and every submit does the same work on the server (a new eval for the job)
    const cliFile = join(work, 'cli-submit.yaml');
    const httpFile = join(work, 'http-submit.yaml');
    writeFileSync(cliFile, jobText('cli-submit'));
    writeFileSync(httpFile, jobText('http-submit'));
    const inProcessNew = jobText('inproc-submit-new');
    const inProcessKept = jobText('inproc-submit-kept');

    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: work,
      ...cluster.cliEnv(),
    };
    const commands: Command[] = [
      { label: 'node -e 0', argv: ['-e', '0'], cli: false },
      { label: 'baton --version', argv: [BIN, '--version'], cli: true },
      { label: `baton job ls (${JOBS + 4} jobs)`, argv: [BIN, 'job', 'ls'], cli: true },
      { label: 'baton run FILE (submit, no --wait)', argv: [BIN, 'run', cliFile], cli: true },
      { label: 'the same submit: node + https POST /v1/jobs, a process', argv: [HTTP_SUBMIT, httpFile], cli: false },
    ];
    const samples = new Map<string, Sample[]>(commands.map((c) => [c.label, []]));
    const rss = new Map<string, number[]>(commands.map((c) => [c.label, []]));
    const inNew: number[] = [];
    const inKept: number[] = [];
    const kept = new Agent({ keepAlive: true, ca: cluster.caPem });
    await postJob(cluster, inProcessKept, kept);

    process.stderr.write(`cli: ${WARMUP} warm-up rounds and ${RUNS} timed rounds of ${commands.length} commands, then ${RSS_RUNS} rounds for peak RSS\n`);
    for (let round = 0; round < WARMUP + RUNS; round++) {
      for (const cmd of commands) {
        const s = await runOnce(cmd, env, work);
        if (round >= WARMUP) samples.get(cmd.label)!.push(s);
      }
      const a = await postJob(cluster, inProcessNew, false);
      const b = await postJob(cluster, inProcessKept, kept);
      if (round >= WARMUP) {
        inNew.push(a);
        inKept.push(b);
      }
      if ((round + 1) % 5 === 0) process.stderr.write(`  ${round + 1}/${WARMUP + RUNS} rounds\n`);
    }
    kept.destroy();
    const usageFile = join(work, 'usage');
    for (let round = 0; round < RSS_RUNS; round++) {
      for (const cmd of commands) rss.get(cmd.label)!.push((await runOnce(cmd, env, work, usageFile)).maxRssKb!);
    }

    const base = median(samples.get('node -e 0')!.map((s) => s.ms));
    const baseRss = median(rss.get('node -e 0')!);
    const t = new Table({
      head: ['command', 'wall median', 'min', 'max', `median / node -e 0`, 'peak RSS (median)', 'RSS / node -e 0', `aim ≤ ${AIM}x`],
      style: { head: [], border: [] },
    });
    const f = (ms: number): string => `${ms.toFixed(0)} ms`;
    for (const cmd of commands) {
      const ms = samples.get(cmd.label)!.map((s) => s.ms);
      const m = median(ms);
      const r = median(rss.get(cmd.label)!);
      const aim = cmd.cli ? (m / base <= AIM ? 'met' : 'missed') : '';
      t.push([
        cmd.label,
        f(m),
        f(Math.min(...ms)),
        f(Math.max(...ms)),
        `${(m / base).toFixed(2)}x`,
        `${(r / 1024).toFixed(0)} MB`,
        `${(r / baseRss).toFixed(2)}x`,
        aim,
      ]);
    }
    for (const [label, ms] of [
      ['the same POST in this process, a new TLS connection each', inNew],
      ['the same POST in this process, one kept-alive connection', inKept],
    ] as const) {
      const m = median(ms);
      t.push([label, f(m), f(Math.min(...ms)), f(Math.max(...ms)), `${(m / base).toFixed(2)}x`, '(no process)', '', '']);
    }
    process.stdout.write(`${t.toString()}\n`);
    process.stdout.write(
      `aim (issue #14): every CLI command within ${AIM}x of node -e 0 (wall time, median of ${RUNS}); peak RSS is the median of ${RSS_RUNS} runs\n`,
    );
    process.stdout.write(`node ${process.version}, the server: one \`baton server\` (SQLite, HTTPS with its own CA) on loopback, no agent\n`);
  } finally {
    await cluster.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();

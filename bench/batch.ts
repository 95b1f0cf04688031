/**
 * bench/batch: 1,000 short runs (`true`) through one real server and one real
 * agent with 50 slots, beside `xargs -P 50` running the same 1,000 commands
 * directly, the exec driver alone running them with the same isolation, and
 * Slurm (when installed) running them on a private one-node Slurm on this
 * machine, all measured in the same run on the same machine. Then the
 * latency from submit to running of single runs on an idle cluster.
 *
 * Slurm gets the runs the way baton does: one submission for all of them
 * (baton: one batch job of count 1,000; Slurm: one job array,
 * `sbatch --array=1-1000%50 --mem=32M --wrap /bin/true`, the %50 bounding
 * the runs at once to the agent's 50 slots), timed from just before the
 * submission until squeue lists none pending, running or completing (polled
 * every 100 ms; baton's side polls the job every 50 ms). How that Slurm is
 * configured (and what it leaves out): bench/support/slurm.ts. Without
 * Slurm (slurmctld, slurmd, munged, sbatch, squeue, sinfo on PATH or in
 * /usr/sbin) that column says so and is skipped; BATON_REQUIRE_SLURM=1 makes
 * it mandatory.
 *
 *   npm run build && npx tsx bench/batch.ts [--runs 1000] [--slots 50] [--samples 50] [--slurm auto|none]
 *   (--runs defaults to $BATON_BENCH_RUNS, else 1000: BATON_BENCH_RUNS=200 for a quick check)
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import Table from 'cli-table3';
import { ExecDriver } from '../src/drivers/exec.js';
import { readProcStat } from '../src/drivers/proc.js';
import { TestCluster, waitFor } from '../test/support/cluster.js';
import { slurmMissing, startLocalSlurm } from './support/slurm.js';
import { describeFs } from './support/fs-info.js';
import { processes } from './support/procs.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: process.env.BATON_BENCH_RUNS || '1000' },
    slots: { type: 'string', default: '50' },
    samples: { type: 'string', default: '50' },
    slurm: { type: 'string', default: 'auto' },
  },
});
if (values.slurm !== 'auto' && values.slurm !== 'none') throw new Error(`--slurm ${values.slurm}: auto or none`);
const RUNS = Number(values.runs);
const SLOTS = Number(values.slots);
const SAMPLES = Number(values.samples);
const TASK_MEMORY_MI = 32;
/** the aims of issue #14: baton's throughput at least this many times Slurm's, and the exec driver alone's */
const AIM_VS_SLURM = 2;
const AIM_VS_DRIVER = 0.8;

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

/**
 * cpu seconds of a process: its own, and (apart) that of its children — those
 * it reaped and those still running (the exec launcher lives as long as the agent)
 */
function cpuOf(pid: number | undefined): { own: number; children: number } {
  const st = pid === undefined ? undefined : readProcStat(pid);
  if (!st || pid === undefined) return { own: 0, children: 0 };
  let children = st.cutime + st.cstime;
  for (const p of processes()) {
    if (p.stat.ppid === pid) children += p.stat.utime + p.stat.stime + p.stat.cutime + p.stat.cstime;
  }
  // USER_HZ is 100 on every Linux ABI Node supports
  return { own: (st.utime + st.stime) / 100, children: children / 100 };
}

function xargsBaseline(): number {
  const t0 = performance.now();
  const r = spawnSync('sh', ['-c', `seq ${RUNS} | xargs -P ${SLOTS} -I{} true`], { stdio: 'ignore' });
  if (r.status !== 0) throw new Error('xargs baseline failed');
  return performance.now() - t0;
}

/**
 * The second baseline: the same runs through the exec driver alone, with the
 * isolation a baton run gets (its own cgroup with limits, log files, an exit
 * status that survives the agent) and no orchestration around it. What sits
 * between this and xargs is the price of isolation on this machine; what sits
 * between this and baton is the price of the server, the agent and the API.
 */
async function driverBaseline(): Promise<{ ms: number; cgroups: string }> {
  const driver = new ExecDriver();
  const base = mkdtempSync(join(tmpdir(), 'baton-bench-driver-'));
  const nodeId = `bench-${randomUUID().slice(0, 8)}`;
  let next = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < RUNS) {
      const i = next++;
      const taskDir = join(base, String(i));
      mkdirSync(taskDir);
      const t = await driver.start({
        nodeId,
        allocId: randomUUID(),
        allocName: `bench[${i}]`,
        allocIndex: i,
        namespace: 'default',
        jobId: 'bench',
        taskName: 'main',
        command: '/bin/true',
        args: [],
        env: {},
        resources: { cpu: 100, memory: TASK_MEMORY_MI * 1024 * 1024, disk: 0 },
        killSignal: 'SIGTERM',
        killTimeoutMs: 1000,
        taskDir,
      });
      if ((await t.wait()).exitCode !== 0) throw new Error('a run of the driver baseline failed');
      await t.destroy();
      rmSync(taskDir, { recursive: true, force: true });
    }
  };
  await Promise.all(Array.from({ length: SLOTS }, worker));
  const ms = performance.now() - t0;
  const cgroups = String((await driver.fingerprint()).attributes['exec.cgroups']);
  driver.close();
  rmSync(base, { recursive: true, force: true });
  return { ms, cgroups };
}

/**
 * The third baseline: the same runs through Slurm on this machine, or why
 * there is none (not installed, or --slurm none)
 */
async function slurmBaseline(): Promise<{ ms: number; version: string; node: string } | { skipped: string }> {
  const missing = values.slurm === 'none' ? '--slurm none' : slurmMissing();
  if (missing) {
    if (process.env.BATON_REQUIRE_SLURM === '1') throw new Error(`BATON_REQUIRE_SLURM=1 but Slurm cannot run: ${missing}`);
    process.stderr.write(`baseline: Slurm skipped (${missing})\n`);
    return { skipped: missing };
  }
  process.stderr.write(`baseline: a private one-node Slurm running ${RUNS} × true as one job array, ${SLOTS} at a time\n`);
  const slurm = await startLocalSlurm({ slots: SLOTS, maxArray: RUNS });
  try {
    const r = await slurm.submitArray(RUNS, SLOTS, TASK_MEMORY_MI, '/bin/true');
    if (r.states.COMPLETED !== RUNS) throw new Error(`Slurm: not every run completed: ${JSON.stringify(r.states)}`);
    return { ms: r.ms, version: slurm.version, node: `${slurm.cpus} cpus, ${slurm.memoryMi} MiB` };
  } finally {
    await slurm.stop();
  }
}

const job = (name: string, count: number) =>
  `name: ${name}\ntype: batch\ncount: ${count}\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n    resources: { cpu: 100m, memory: ${TASK_MEMORY_MI}Mi }\n`;

async function main(): Promise<void> {
  process.stderr.write(`baseline: xargs -P ${SLOTS} running ${RUNS} × true\n`);
  const xargsMs = xargsBaseline();
  process.stderr.write(`baseline: the exec driver alone running ${RUNS} × true, ${SLOTS} at a time\n`);
  const driverRun = await driverBaseline();
  const slurmRun = await slurmBaseline();

  const cluster = await TestCluster.start({ heartbeatTtl: '30s' });
  try {
    // declared capacity: exactly SLOTS runs fit at once
    await cluster.addAgent({ name: 'bench', cpu: `${(SLOTS * 100) / 1000}`, memory: `${SLOTS * TASK_MEMORY_MI}Mi`, drivers: 'exec' });
    process.stderr.write(`baton: ${RUNS} runs through one server and one agent with ${SLOTS} slots\n`);
    const serverPid = cluster.server?.child.pid;
    const agentPid = cluster.agents[0].proc?.child.pid;
    const cpu0 = { server: cpuOf(serverPid), agent: cpuOf(agentPid), bench: process.cpuUsage() };
    const t0 = performance.now();
    await cluster.client.submitJob(job('bench-throughput', RUNS), 'bench.yaml');
    let lastLog = 0;
    const allocs = await waitFor(
      'all runs to complete',
      async () => {
        const d = await cluster.client.getJob('bench-throughput');
        if (performance.now() - lastLog > 2000) {
          lastLog = performance.now();
          process.stderr.write(`  ${d.summary.allocs.complete}/${RUNS} complete\n`);
        }
        if (d.summary.allocs.failed > 0) throw new Error(`${d.summary.allocs.failed} runs failed`);
        return d.summary.allocs.complete >= RUNS ? d.allocs : undefined;
      },
      30 * 60_000,
      50,
    );
    const batonMs = performance.now() - t0;
    const benchCpu = process.cpuUsage(cpu0.bench);
    const cpu = {
      server: cpuOf(serverPid).own - cpu0.server.own,
      agent: cpuOf(agentPid).own - cpu0.agent.own,
      tasks: cpuOf(agentPid).children - cpu0.agent.children,
      bench: (benchCpu.user + benchCpu.system) / 1e6,
    };

    // latency on an idle cluster: from the submit request to the task's start, one run at a time
    process.stderr.write(`latency: ${SAMPLES} single runs, submit to running\n`);
    const latencies: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const sent = Date.now();
      await cluster.client.submitJob(job(`bench-latency-${i}`, 1), 'latency.yaml');
      const started = await waitFor(
        'the run to start',
        async () => {
          const [a] = (await cluster.client.getJob(`bench-latency-${i}`)).allocs;
          const at = a?.taskStates.main?.startedAt;
          return at ? Date.parse(at) : undefined;
        },
        60_000,
        2,
      );
      latencies.push(started - sent);
    }
    const queued = allocs.map((a) => Date.parse(a.taskStates.main?.startedAt ?? a.createdAt) - Date.parse(a.createdAt));

    const driverHead = `exec driver alone (cgroups ${driverRun.cgroups})`;
    const slurmHead = 'skipped' in slurmRun ? 'Slurm' : `Slurm (${slurmRun.version}, one node: ${slurmRun.node})`;
    const slurmMs = 'skipped' in slurmRun ? undefined : slurmRun.ms;
    const t = new Table({
      head: ['measure', `xargs -P ${SLOTS}`, driverHead, slurmHead, 'baton', 'baton / xargs', 'baton / driver', 'baton / Slurm'],
      style: { head: [], border: [] },
    });
    const rate = (ms: number): string => (RUNS / (ms / 1000)).toFixed(0);
    const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;
    const skipped = 'skipped' in slurmRun ? `skipped: ${slurmRun.skipped}` : '';
    const e = '';
    t.push(
      [
        `wall time for ${RUNS} runs`,
        `${(xargsMs / 1000).toFixed(2)} s`,
        `${(driverRun.ms / 1000).toFixed(2)} s`,
        slurmMs === undefined ? skipped : `${(slurmMs / 1000).toFixed(2)} s`,
        `${(batonMs / 1000).toFixed(2)} s`,
        e,
        e,
        e,
      ],
      [
        'throughput (runs/s)',
        rate(xargsMs),
        rate(driverRun.ms),
        slurmMs === undefined ? skipped : rate(slurmMs),
        rate(batonMs),
        ratio(xargsMs, batonMs),
        ratio(driverRun.ms, batonMs),
        slurmMs === undefined ? skipped : ratio(slurmMs, batonMs),
      ],
      ['submit → running, idle cluster, p50', e, e, e, `${quantile(latencies, 0.5).toFixed(0)} ms`, e, e, e],
      ['submit → running, idle cluster, p99', e, e, e, `${quantile(latencies, 0.99).toFixed(0)} ms`, e, e, e],
      [
        'cpu per run: server / agent / tasks / this bench',
        e,
        e,
        e,
        (['server', 'agent', 'tasks', 'bench'] as const).map((k) => `${((cpu[k] * 1000) / RUNS).toFixed(2)}`).join(' / ') + ' ms',
        e,
        e,
        e,
      ],
      [`placed → running in the ${RUNS}-run batch, p50`, e, e, e, `${quantile(queued, 0.5).toFixed(0)} ms`, e, e, e],
      [`placed → running in the ${RUNS}-run batch, p99`, e, e, e, `${quantile(queued, 0.99).toFixed(0)} ms`, e, e, e],
    );
    process.stdout.write(`${t.toString()}\n`);
    process.stdout.write(
      "baselines: xargs runs each `true` bare; the exec driver alone runs it with a baton run's isolation (own cgroup with limits, log files, an exit status that survives the agent) and no server or agent;\n",
    );
    if (slurmMs !== undefined)
      process.stdout.write(
        `  Slurm runs it as one job array (sbatch --array=1-${RUNS}%${SLOTS} --mem=${TASK_MEMORY_MI}M --wrap /bin/true; no cgroups: proctrack/linuxproc, task/none; default scheduler settings)\n`,
      );
    const met = (ok: boolean): string => (ok ? 'met' : 'missed');
    const vsSlurm =
      'skipped' in slurmRun ? `not measured: ${slurmRun.skipped}` : `${ratio(slurmRun.ms, batonMs)}: ${met(slurmRun.ms / batonMs >= AIM_VS_SLURM)}`;
    process.stdout.write(
      `aims (issue #14): throughput at least ${AIM_VS_SLURM}x Slurm's (${vsSlurm}) and at least ${AIM_VS_DRIVER}x the exec driver alone's (${ratio(driverRun.ms, batonMs)}: ${met(driverRun.ms / batonMs >= AIM_VS_DRIVER)})\n`,
    );
    process.stdout.write('targets (issue #3): throughput at least 50 % of xargs, submit → running p50 under 50 ms\n');
    // the driver alone and the agent make and remove every run's files there
    process.stdout.write(`${describeFs(tmpdir())}\n`);
  } finally {
    await cluster.stop();
  }
}

await main();

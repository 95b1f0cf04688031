/**
 * A private one-node Slurm on localhost for bench/batch, configured and
 * started by the benchmark itself and stopped at its end: a temp dir with
 * slurm.conf, a MUNGE key and daemon of its own (munged on a socket in that
 * dir: Debian's Slurm authenticates with MUNGE), slurmctld and slurmd in the
 * foreground (-D) as children of the benchmark, on free loopback ports.
 * Nothing of the machine's own configuration (/etc/slurm, /etc/munge,
 * /run/munge) is read or touched; the commands find the cluster through
 * SLURM_CONF, which `env` carries.
 *
 * The node is declared with the machine's real cpus and memory (less 1 GiB
 * for the rest of the machine). Slurm's consumable cpus come in whole cpus
 * while a baton run asks for 100m, so the one partition lets each cpu be
 * shared (OverSubscribe=FORCE:n, enough for `slots` runs at once) and what
 * bounds the runs at once to `slots` is the job array's own throttle
 * (`--array=1-N%slots`, see submitArray). Memory is consumable as in baton.
 * Process tracking is proctrack/linuxproc and task/none: no cgroups, less
 * isolation than a baton exec run gets (each run in a cgroup of its own),
 * which favours Slurm. No accounting database: the runs' states are read
 * from slurmctld (squeue), which keeps ended jobs for MinJobAge. Scheduler
 * settings are Slurm's defaults (sched/backfill), untuned for throughput.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, tmpdir, totalmem } from 'node:os';
import { delimiter, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePort, waitFor } from '../../test/support/cluster.js';

/** a command on PATH, else in /usr/sbin (where Debian puts the daemons) */
export function findSlurmCommand(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin']) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** why Slurm cannot run here, or undefined when it can */
export function slurmMissing(): string | undefined {
  const missing = ['slurmctld', 'slurmd', 'munged', 'sbatch', 'squeue', 'sinfo'].filter((c) => !findSlurmCommand(c));
  if (missing.length) return `${missing.join(', ')} not on PATH or in /usr/sbin`;
  // slurmd starts each run as the user who submitted it, and this slurm.conf names root as SlurmUser
  if (process.getuid?.() !== 0) return 'Slurm is installed but this benchmark runs it as root only';
  return undefined;
}

export interface ArrayResult {
  ms: number;
  /** how many runs of the array ended in each state, e.g. { COMPLETED: 1000 } */
  states: Record<string, number>;
}

export interface LocalSlurm {
  dir: string;
  version: string;
  cpus: number;
  memoryMi: number;
  env: NodeJS.ProcessEnv;
  /**
   * `runs` runs of `command` as one job array, at most `slots` at a time, each
   * asking for memoryMi of memory, timed from just before sbatch to the moment
   * squeue lists none of them as pending, running or completing
   */
  submitArray(runs: number, slots: number, memoryMi: number, command: string): Promise<ArrayResult>;
  stop(): Promise<void>;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): string {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function runAsync(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', rej);
    child.on('close', (code) => (code === 0 ? res(out) : rej(new Error(`${cmd} ${args.join(' ')}: exit ${code}: ${err}`))));
  });
}

export async function startLocalSlurm(opts: { slots: number; maxArray: number }): Promise<LocalSlurm> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-slurm-'));
  // munged wants the socket's directory searchable by all
  chmodSync(dir, 0o711);
  const children: ChildProcess[] = [];
  const daemon = (cmd: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess => {
    const child = spawn(findSlurmCommand(cmd)!, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code, signal) => {
      if (!stopping) process.stderr.write(`${cmd} exited (${code ?? signal}): ${out.slice(-2000)}\n`);
    });
    children.push(child);
    return child;
  };
  let stopping = false;
  const stop = async (): Promise<void> => {
    stopping = true;
    // the node daemon first, then the controller, then munged
    for (const child of [...children].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const key = join(dir, 'munge.key');
    writeFileSync(key, randomBytes(1024), { mode: 0o400 });
    const socket = join(dir, 'munge.socket');
    // -f: munged refuses root and a socket under /tmp otherwise
    daemon(
      'munged',
      [
        '-F',
        '-f',
        `--key-file=${key}`,
        `--socket=${socket}`,
        `--pid-file=${join(dir, 'munged.pid')}`,
        `--log-file=${join(dir, 'munged.log')}`,
        `--seed-file=${join(dir, 'munged.seed')}`,
      ],
      process.env,
    );
    await waitFor('munged to listen', () => existsSync(socket), 10_000, 20);

    const host = hostname().split('.')[0];
    const ncpu = cpus().length;
    const memoryMi = Math.max(1024, Math.floor(totalmem() / 1024 / 1024) - 1024);
    const [ctldPort, dPort] = [await freePort(), await freePort()];
    for (const d of ['state', 'spool']) mkdirSync(join(dir, d));
    const conf = [
      'ClusterName=batonbench',
      `SlurmctldHost=${host}(127.0.0.1)`,
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${dPort}`,
      'AuthType=auth/munge',
      'CredType=cred/munge',
      `AuthInfo=socket=${socket}`,
      'SlurmUser=root',
      'SlurmdUser=root',
      `StateSaveLocation=${join(dir, 'state')}`,
      `SlurmdSpoolDir=${join(dir, 'spool')}`,
      `SlurmctldPidFile=${join(dir, 'slurmctld.pid')}`,
      `SlurmdPidFile=${join(dir, 'slurmd.pid')}`,
      `SlurmctldLogFile=${join(dir, 'slurmctld.log')}`,
      `SlurmdLogFile=${join(dir, 'slurmd.log')}`,
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_CPU_Memory',
      'SchedulerType=sched/backfill',
      'JobAcctGatherType=jobacct_gather/none',
      'AccountingStorageType=accounting_storage/none',
      'MpiDefault=none',
      'MailProg=/bin/true',
      'ReturnToService=2',
      `MaxArraySize=${opts.maxArray + 1}`,
      `MaxJobCount=${Math.max(10_000, opts.maxArray * 2)}`,
      // ended jobs stay listed long enough to count their states
      'MinJobAge=3600',
      `NodeName=${host} NodeAddr=127.0.0.1 CPUs=${ncpu} RealMemory=${memoryMi} State=UNKNOWN`,
      `PartitionName=bench Nodes=${host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:${Math.ceil(opts.slots / ncpu)}`,
      '',
    ].join('\n');
    const confFile = join(dir, 'slurm.conf');
    writeFileSync(confFile, conf);
    const env: NodeJS.ProcessEnv = { ...process.env, SLURM_CONF: confFile };
    for (const k of Object.keys(env)) if (k.startsWith('SBATCH_') || k.startsWith('SQUEUE_')) delete env[k];

    // -i: ignore (absent) state files; this controller starts empty
    daemon('slurmctld', ['-D', '-i'], env);
    await waitFor(
      'slurmctld to answer',
      async () => (await runAsync(findSlurmCommand('sinfo')!, ['-h'], env).catch(() => '')) !== '' || undefined,
      30_000,
      200,
    );
    daemon('slurmd', ['-D', '-N', host], env);
    await waitFor(
      'the Slurm node to be idle',
      async () => {
        const s = await runAsync(findSlurmCommand('sinfo')!, ['-h', '-N', '-o', '%T'], env).catch(() => '');
        return s.trim() === 'idle' || undefined;
      },
      60_000,
      200,
    );
    const version = run(findSlurmCommand('sinfo')!, ['--version'], env).trim();

    const submitArray = async (runs: number, slots: number, memMi: number, command: string): Promise<ArrayResult> => {
      const squeue = findSlurmCommand('squeue')!;
      const t0 = performance.now();
      const id = (
        await runAsync(
          findSlurmCommand('sbatch')!,
          ['--parsable', `--array=1-${runs}%${slots}`, `--mem=${memMi}M`, '--output=/dev/null', '--job-name=bench', `--wrap=${command}`],
          env,
        )
      )
        .trim()
        .split(';')[0];
      await waitFor(
        `the ${runs} Slurm runs to end`,
        async () => {
          const left = await runAsync(squeue, ['-h', '-r', '-j', id, '-t', 'PD,R,CG,CF,S', '-o', '%i'], env);
          return left.trim() === '' || undefined;
        },
        60 * 60_000,
        100,
      );
      const ms = performance.now() - t0;
      const states: Record<string, number> = {};
      for (const s of (await runAsync(squeue, ['-h', '-r', '-j', id, '-t', 'all', '-o', '%T'], env)).split('\n')) {
        if (s.trim()) states[s.trim()] = (states[s.trim()] ?? 0) + 1;
      }
      return { ms, states };
    };
    return { dir, version, cpus: ncpu, memoryMi, env, submitArray, stop };
  } catch (err) {
    const tail = ['slurmctld.log', 'slurmd.log', 'munged.log'].map((f) => {
      try {
        return `${f}: ${readFileSync(join(dir, f), 'utf8').slice(-1500)}`;
      } catch {
        return '';
      }
    });
    await stop();
    throw new Error(`${(err as Error).message}\n${tail.join('\n')}`);
  }
}

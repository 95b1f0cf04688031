/**
 * Memory limits and cpu weights (and cpu caps where a task sets a limit) for
 * exec tasks through Linux cgroups, v2 (unified) or v1 (one hierarchy per
 * controller). Everything here is plain file I/O so the
 * exec driver can fall back to "no limits" when the hierarchy is not writable.
 */
import { existsSync, mkdirSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Resources } from '../api/types.js';
import { readSmallFile } from './small-file.js';

export type CgroupVersion = 'v1' | 'v2' | 'none';

/** Where one task's cgroup lives; persisted in the task handle so a new agent finds it again. */
export interface TaskCgroup {
  version: 'v1' | 'v2';
  /** v2: the unified dir; v1: the dir in the memory hierarchy */
  memory: string;
  /** v2: same as memory; v1: the dir in the cpu hierarchy (absent when cpu is not mounted) */
  cpu?: string;
  /** v1 only, when cpuacct is mounted apart from cpu: where the cpu time is counted */
  cpuacct?: string;
}

export interface CgroupStats {
  memory: number;
  peakMemory: number;
  oomKills: number;
  /** v1 memory.failcnt: how often the limit was hit (a hint when oom_kill is not reported) */
  failcnt: number;
  cpuNanos?: number;
}

/**
 * One step of creating a task cgroup: a dir, or a value written to a file. A
 * dir left over from an earlier run of the same task is removed and made anew
 * when it is empty (it would carry its oom and peak counters over), and used
 * as it is when it is not (rmdir refuses a group with processes).
 */
export type CgroupStep = { mkdir: string } | { write: string; value: string; required?: boolean };

const PERIOD_US = 100_000;
/** the kernel refuses a cfs quota under 1 ms */
const MIN_QUOTA_US = 1_000;

/**
 * cgroup v1 cpu.shares for a cpu amount in millicores: 1024 per core, as
 * Kubernetes and Docker count, within the kernel's 2..262144.
 */
export function cpuShares(millicores: number): number {
  return Math.min(262_144, Math.max(2, Math.floor((millicores * 1024) / 1000)));
}

/**
 * cgroup v2 cpu.weight (1..10000) for v1 shares, as systemd and Kubernetes
 * convert: 2 shares → 1, 1024 → 39, 262144 → 10000.
 */
export function cpuWeight(shares: number): number {
  const s = Math.min(262_144, Math.max(2, Math.floor(shares)));
  return 1 + Math.floor(((s - 2) * 9999) / 262_142);
}

/** cpu.max (v2) for a task: its limit as a quota per 100 ms period, or no cap */
function cpuMax(limit: number | undefined): string {
  return limit ? `${Math.max(MIN_QUOTA_US, limit * 100)} ${PERIOD_US}` : `max ${PERIOD_US}`;
}

function readText(path: string): string | undefined {
  return readSmallFile(path);
}

function readNumber(path: string): number | undefined {
  const t = readText(path)?.trim();
  if (t === undefined || t === '' || t === 'max') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** `key value` lines (memory.events, cpu.stat, memory.oom_control) */
function readKeyed(path: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (readText(path) ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && Number.isFinite(Number(v))) out[k] = Number(v);
  }
  return out;
}

/** Tolerates files a kernel does not have (memsw without swap accounting, swappiness on v2 ...). */
function tryWrite(path: string, value: string): boolean {
  try {
    writeFileSync(path, value);
    return true;
  } catch {
    return false;
  }
}

/** a task's dirs, once each (on v2 memory and cpu are the same dir) */
function taskDirs(cg: TaskCgroup): string[] {
  return [...new Set([cg.memory, cg.cpu, cg.cpuacct].filter((d): d is string => !!d))];
}

function freshDir(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    try {
      rmdirSync(dir);
      mkdirSync(dir);
    } catch {
      // busy: processes of the earlier run are still in it; keep using it
    }
  }
}

/** One write per controller: a combined write fails whole when cpu is not available. */
function enableControllers(dir: string): void {
  for (const c of ['+memory', '+cpu']) tryWrite(join(dir, 'cgroup.subtree_control'), c);
}

/**
 * v1 controllers may be co-mounted (`cpu,cpuacct`); the real mount point comes
 * from mountinfo when the root is the system one, else from trying both names.
 */
function v1ControllerDir(root: string, controller: string): string | undefined {
  if (root === '/sys/fs/cgroup') {
    for (const line of (readText('/proc/self/mountinfo') ?? '').split('\n')) {
      const [pre, post] = line.split(' - ');
      if (!pre || !post) continue;
      const [fstype, , superOpts] = post.split(' ');
      if (fstype !== 'cgroup') continue;
      if ((superOpts ?? '').split(',').includes(controller)) return pre.split(' ')[4];
    }
  }
  for (const name of [controller, `${controller},cpuacct`, `cpuacct,${controller}`]) {
    const dir = join(root, name);
    if (existsSync(dir)) return dir;
  }
  return undefined;
}

export class Cgroups {
  readonly version: CgroupVersion;
  /** why cgroups are unusable, when version is 'none' */
  readonly reason?: string;
  private readonly memoryBase?: string;
  private readonly cpuBase?: string;
  private readonly cpuacctBase?: string;
  /** per-node parent dirs already made (and, on v2, given the controllers) */
  private readonly preparedNodeDirs = new Set<string>();
  /** per-node parent dirs in the cpu hierarchy (v2: the same dirs), which get the node's weight */
  private readonly cpuNodeDirs = new Set<string>();
  /** the cpu the agent offers, in millicores: the weight of baton's groups (see offer()) */
  private offered?: number;

  constructor(readonly root = '/sys/fs/cgroup') {
    const detected = this.detect();
    this.version = detected.version;
    this.reason = detected.reason;
    this.memoryBase = detected.memoryBase;
    this.cpuBase = detected.cpuBase;
    this.cpuacctBase = detected.cpuacctBase;
  }

  private detect(): { version: CgroupVersion; reason?: string; memoryBase?: string; cpuBase?: string; cpuacctBase?: string } {
    try {
      if (existsSync(join(this.root, 'cgroup.controllers'))) {
        const base = join(this.root, 'baton');
        mkdirSync(base, { recursive: true });
        // limits are only enforced when the parent delegates the controllers
        enableControllers(this.root);
        enableControllers(base);
        // a cgroup's cgroup.controllers lists what its parent delegates to it
        const ctl = (readText(join(base, 'cgroup.controllers')) ?? '').split(/\s+/);
        if (!ctl.includes('memory')) return { version: 'none', reason: `memory controller not delegated to ${base}` };
        return { version: 'v2', memoryBase: base, cpuBase: ctl.includes('cpu') ? base : undefined };
      }
      const mem = join(this.root, 'memory');
      if (existsSync(mem)) {
        const memoryBase = join(mem, 'baton');
        mkdirSync(memoryBase, { recursive: true });
        const cpuDir = v1ControllerDir(this.root, 'cpu');
        let cpuBase: string | undefined;
        if (cpuDir) {
          try {
            mkdirSync(join(cpuDir, 'baton'), { recursive: true });
            cpuBase = join(cpuDir, 'baton');
          } catch {
            cpuBase = undefined;
          }
        }
        // without cpuacct next to cpu, the cpu time a task used could only be guessed from /proc
        const acctDir = v1ControllerDir(this.root, 'cpuacct');
        let cpuacctBase: string | undefined;
        if (acctDir && acctDir !== cpuDir) {
          try {
            mkdirSync(join(acctDir, 'baton'), { recursive: true });
            cpuacctBase = join(acctDir, 'baton');
          } catch {
            cpuacctBase = undefined;
          }
        }
        return { version: 'v1', memoryBase, cpuBase, cpuacctBase };
      }
      return { version: 'none', reason: `no cgroup hierarchy at ${this.root}` };
    } catch (err) {
      return { version: 'none', reason: (err as Error).message };
    }
  }

  /** cpu weights and limits are enforced (the cpu controller is there, and delegated on v2) */
  get cpuControlled(): boolean {
    return this.cpuBase !== undefined;
  }

  /**
   * The cpu capacity the agent offers (millicores). baton's own group and the
   * node's group under it get the weight of that many cores, so baton's tasks
   * as a whole compete with the other software on the machine as that many
   * cores' worth of requests would, whatever the number of tasks.
   */
  offer(millicores: number): void {
    this.offered = millicores;
    if (!this.cpuBase) return;
    for (const dir of [this.cpuBase, ...this.cpuNodeDirs]) this.writeWeight(dir, millicores);
  }

  private writeWeight(dir: string, millicores: number): void {
    if (this.version === 'v2') tryWrite(join(dir, 'cpu.weight'), String(cpuWeight(cpuShares(millicores))));
    else tryWrite(join(dir, 'cpu.shares'), String(cpuShares(millicores)));
  }

  private prepareCpuNodeDir(dir: string): void {
    if (this.cpuNodeDirs.has(dir)) return;
    this.cpuNodeDirs.add(dir);
    if (this.offered !== undefined) this.writeWeight(dir, this.offered);
  }

  /** Creates the task's cgroup with its limits; undefined when cgroups are not usable. */
  create(nodeId: string, name: string, resources: Resources): TaskCgroup | undefined {
    const planned = this.plan(nodeId, name, resources);
    if (!planned) return undefined;
    Cgroups.apply(planned.steps);
    return planned.cgroup;
  }

  /**
   * What creating the task's cgroup takes, as steps carried out later (the exec
   * launchers do, with apply(), right before the fork). The node's own dir is
   * prepared here, once per node.
   */
  plan(nodeId: string, name: string, resources: Resources): { cgroup: TaskCgroup; steps: CgroupStep[] } | undefined {
    if (this.version === 'none' || !this.memoryBase) return undefined;
    const steps: CgroupStep[] = [];
    if (this.version === 'v2') {
      const nodeDir = join(this.memoryBase, nodeId);
      if (!this.preparedNodeDirs.has(nodeDir)) {
        mkdirSync(nodeDir, { recursive: true });
        enableControllers(nodeDir);
        this.preparedNodeDirs.add(nodeDir);
        if (this.cpuBase) this.prepareCpuNodeDir(nodeDir);
      }
      const dir = join(nodeDir, name);
      steps.push({ mkdir: dir });
      if (resources.memory > 0) {
        steps.push({ write: join(dir, 'memory.max'), value: String(resources.memory), required: true });
        steps.push({ write: join(dir, 'memory.swap.max'), value: '0' });
      }
      if (this.cpuBase) {
        // the request is a weight; a cap only when the task sets a limit (written either way: a busy
        // group kept from an earlier run may carry another task's values)
        steps.push({ write: join(dir, 'cpu.weight'), value: String(cpuWeight(cpuShares(resources.cpu))) });
        steps.push({ write: join(dir, 'cpu.max'), value: cpuMax(resources.cpuLimit) });
      }
      return { cgroup: { version: 'v2', memory: dir, cpu: dir }, steps };
    }
    const memNode = join(this.memoryBase, nodeId);
    const cpuNode = this.cpuBase ? join(this.cpuBase, nodeId) : undefined;
    const acctNode = this.cpuacctBase ? join(this.cpuacctBase, nodeId) : undefined;
    for (const d of [memNode, cpuNode, acctNode]) {
      if (d && !this.preparedNodeDirs.has(d)) {
        mkdirSync(d, { recursive: true });
        this.preparedNodeDirs.add(d);
        if (d === cpuNode) this.prepareCpuNodeDir(d);
      }
    }
    const memDir = join(memNode, name);
    steps.push({ mkdir: memDir });
    if (resources.memory > 0) {
      steps.push({ write: join(memDir, 'memory.limit_in_bytes'), value: String(resources.memory), required: true });
      // memsw must be >= the memory limit, hence after it; absent without swap accounting
      steps.push({ write: join(memDir, 'memory.memsw.limit_in_bytes'), value: String(resources.memory) });
      steps.push({ write: join(memDir, 'memory.swappiness'), value: '0' });
    }
    const cpuDir = cpuNode ? join(cpuNode, name) : undefined;
    if (cpuDir) {
      steps.push({ mkdir: cpuDir });
      // the request is a weight; a cap only when the task sets a limit (see v2 above)
      steps.push({ write: join(cpuDir, 'cpu.shares'), value: String(cpuShares(resources.cpu)) });
      if (resources.cpuLimit) {
        steps.push({ write: join(cpuDir, 'cpu.cfs_period_us'), value: String(PERIOD_US) });
        steps.push({ write: join(cpuDir, 'cpu.cfs_quota_us'), value: String(Math.max(MIN_QUOTA_US, resources.cpuLimit * 100)) });
      } else {
        steps.push({ write: join(cpuDir, 'cpu.cfs_quota_us'), value: '-1' });
      }
    }
    const cpuacctDir = acctNode ? join(acctNode, name) : undefined;
    if (cpuacctDir) steps.push({ mkdir: cpuacctDir });
    return { cgroup: { version: 'v1', memory: memDir, cpu: cpuDir, ...(cpuacctDir ? { cpuacct: cpuacctDir } : {}) }, steps };
  }

  /** Carries out the steps of plan() (dirs as CgroupStep says); a failed required write throws. */
  static apply(steps: CgroupStep[]): void {
    for (const st of steps) {
      if ('mkdir' in st) {
        freshDir(st.mkdir);
      } else if (st.required) {
        writeFileSync(st.write, st.value);
      } else {
        tryWrite(st.write, st.value);
      }
    }
  }

  /** The cgroup.procs files a process writes its pid into to join the task's cgroup. */
  static procsFiles(cg: TaskCgroup): string[] {
    return taskDirs(cg).map((d) => join(d, 'cgroup.procs'));
  }

  static pids(cg: TaskCgroup): number[] {
    const out = new Set<number>();
    for (const f of Cgroups.procsFiles(cg)) {
      for (const l of (readText(f) ?? '').split('\n')) if (l.trim()) out.add(Number(l));
    }
    return [...out];
  }

  /**
   * The group's counters. `current: false` skips its present memory use, which
   * is 0 once its processes are gone: the exit status of every task reads
   * these, and each file is a few system calls.
   */
  static stats(cg: TaskCgroup, opts: { current?: boolean } = {}): CgroupStats {
    const current = opts.current !== false;
    if (cg.version === 'v2') {
      const memory = current ? (readNumber(join(cg.memory, 'memory.current')) ?? 0) : 0;
      const events = readKeyed(join(cg.memory, 'memory.events'));
      const cpu = readKeyed(join(cg.memory, 'cpu.stat'));
      return {
        memory,
        peakMemory: readNumber(join(cg.memory, 'memory.peak')) ?? memory,
        oomKills: events.oom_kill ?? 0,
        failcnt: events.max ?? 0,
        cpuNanos: cpu.usage_usec !== undefined ? cpu.usage_usec * 1000 : undefined,
      };
    }
    const memory = current ? (readNumber(join(cg.memory, 'memory.usage_in_bytes')) ?? 0) : 0;
    const oom = readKeyed(join(cg.memory, 'memory.oom_control'));
    const acct = cg.cpuacct ?? cg.cpu;
    const cpuacct = acct ? readNumber(join(acct, 'cpuacct.usage')) : undefined;
    return {
      memory,
      peakMemory: readNumber(join(cg.memory, 'memory.max_usage_in_bytes')) ?? memory,
      oomKills: oom.oom_kill ?? 0,
      failcnt: readNumber(join(cg.memory, 'memory.failcnt')) ?? 0,
      cpuNanos: cpuacct,
    };
  }

  /** Removes the task's dirs; only succeeds once no process is left in them. */
  static destroy(cg: TaskCgroup): void {
    for (const dir of taskDirs(cg)) {
      try {
        rmdirSync(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }

  /** Every task cgroup this node has (alive or not), keyed by dir name. */
  list(nodeId: string): TaskCgroup[] {
    if (this.version === 'none' || !this.memoryBase) return [];
    const nodeDir = join(this.memoryBase, nodeId);
    let names: string[];
    try {
      names = readdirSync(nodeDir, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name);
    } catch {
      return [];
    }
    return names.map((n) =>
      this.version === 'v2'
        ? { version: 'v2' as const, memory: join(nodeDir, n), cpu: join(nodeDir, n) }
        : {
            version: 'v1' as const,
            memory: join(nodeDir, n),
            cpu: this.cpuBase && existsSync(join(this.cpuBase, nodeId, n)) ? join(this.cpuBase, nodeId, n) : undefined,
            ...(this.cpuacctBase && existsSync(join(this.cpuacctBase, nodeId, n)) ? { cpuacct: join(this.cpuacctBase, nodeId, n) } : {}),
          },
    );
  }
}

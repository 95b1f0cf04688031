/**
 * The lease an agent keeps in `<dataDir>/lease.json` for the node's watchdog
 * (watchdog-main.ts): who the agent process is (pid and start time, so a
 * reused pid is not taken for it), when it last reached the server (on the
 * machine's monotonic clock, which the watchdog shares) and, for every live
 * task whose alloc must not outlive a lost server, its handle and deadline.
 * If the agent process dies, the watchdog stops those tasks at the same bound
 * the live agent keeps itself to (disconnect-guard.ts).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TaskHandle } from '../drivers/driver.js';
import { readProcStat } from '../drivers/proc.js';
import type { NodeBound } from '../jobs/disconnect.js';
import { writeJsonAtomic } from './state-file.js';

export const LEASE_FILE = 'lease.json';

export interface LeaseTask {
  allocId: string;
  taskName: string;
  driver: string;
  handle: TaskHandle;
  /** ms after contactAt: send killSignal */
  stopAfterMs: number;
  /** ms after contactAt: SIGKILL whatever is left */
  killAfterMs: number;
  killSignal: string;
}

export interface AgentLease {
  version: 1;
  agentPid: number;
  /** field 22 of /proc/<pid>/stat: with the pid it names one process */
  agentStart: string;
  /** monotonic ms (contact.ts monotonicMs) of the agent's last server contact */
  contactAt: number;
  /** the bound the server last gave (absent in leases of older agents): a restarted agent keeps to it until it reaches the server */
  bound?: NodeBound;
  tasks: LeaseTask[];
}

/** what lease building needs of an alloc runner (AllocRunner) */
export interface LeaseSource {
  readonly id: string;
  disconnectDeadline(bound: NodeBound): { stopAfterMs: number; killAfterMs: number } | undefined;
  liveTasks(): Array<{ taskName: string; driver: string; handle: TaskHandle; killSignal: string }>;
}

export function leasePath(dataDir: string): string {
  return join(dataDir, LEASE_FILE);
}

/** start time (/proc/<pid>/stat field 22) of a process; '' when it is gone */
export function processStart(pid: number): string {
  return readProcStat(pid)?.startTime ?? '';
}

let ownStart: string | undefined;

/** The lease of this process as the agent: only tasks whose alloc has a disconnect deadline. */
export function buildLease(opts: { contactAt: number; runners: Iterable<LeaseSource>; bound: NodeBound }): AgentLease {
  ownStart ??= processStart(process.pid);
  const tasks: LeaseTask[] = [];
  for (const r of opts.runners) {
    const d = r.disconnectDeadline(opts.bound);
    if (!d) continue;
    for (const t of r.liveTasks()) {
      tasks.push({
        allocId: r.id,
        taskName: t.taskName,
        driver: t.driver,
        handle: t.handle,
        stopAfterMs: d.stopAfterMs,
        killAfterMs: d.killAfterMs,
        killSignal: t.killSignal,
      });
    }
  }
  return { version: 1, agentPid: process.pid, agentStart: ownStart, contactAt: opts.contactAt, bound: opts.bound, tasks };
}

/**
 * A starting agent takes the lease over from the agent process before it
 * (crashed, killed, restarted) at once, before it does anything else: the
 * watchdog then defers to it instead of stopping the tasks the new agent is
 * about to re-attach to, and the new agent keeps to the same bound from the
 * same last contact (it has not reached the server since either). The tasks
 * stay listed, so a new agent that dies too leaves them to the watchdog.
 * Returns the earlier lease; undefined when there is none (or it is not one).
 */
export async function takeOverLease(dataDir: string, now: number): Promise<AgentLease | undefined> {
  let prior: AgentLease | undefined;
  try {
    prior = await readLease(dataDir);
  } catch {
    prior = undefined;
  }
  if (!prior) return undefined;
  ownStart ??= processStart(process.pid);
  // a contact "later than now" is from before a reboot (the monotonic clock started again): nothing of it runs
  const contactAt = Math.min(prior.contactAt, now);
  const mine: AgentLease = { ...prior, agentPid: process.pid, agentStart: ownStart, contactAt };
  await writeLease(dataDir, mine);
  return mine;
}

export function writeLease(dataDir: string, lease: AgentLease): Promise<void> {
  // handles name the node's processes and containers: for the agent (root) only, like the state files
  return writeJsonAtomic(leasePath(dataDir), lease, { mode: 0o600 });
}

/** the lease as text, for callers that compare before parsing */
export async function readLeaseText(dataDir: string): Promise<string | undefined> {
  try {
    return await readFile(leasePath(dataDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** throws on text that is not a lease */
export function parseLease(text: string): AgentLease {
  const v = JSON.parse(text) as AgentLease;
  if (!isLease(v)) throw new Error('not an agent lease');
  return v;
}

/** undefined when there is none; throws when it is unreadable or not a lease */
export async function readLease(dataDir: string): Promise<AgentLease | undefined> {
  const text = await readLeaseText(dataDir);
  return text === undefined ? undefined : parseLease(text);
}

function isLease(v: unknown): v is AgentLease {
  const l = v as AgentLease;
  return (
    typeof l === 'object' &&
    l !== null &&
    l.version === 1 &&
    Number.isInteger(l.agentPid) &&
    typeof l.agentStart === 'string' &&
    typeof l.contactAt === 'number' &&
    (l.bound === undefined || (typeof l.bound?.ttlMs === 'number' && typeof l.bound?.stopAfterMs === 'number')) &&
    Array.isArray(l.tasks) &&
    l.tasks.every(
      (t) =>
        typeof t === 'object' &&
        t !== null &&
        typeof t.allocId === 'string' &&
        typeof t.taskName === 'string' &&
        typeof t.driver === 'string' &&
        typeof t.handle?.id === 'string' &&
        typeof t.handle?.driver === 'string' &&
        typeof t.stopAfterMs === 'number' &&
        typeof t.killAfterMs === 'number' &&
        typeof t.killSignal === 'string',
    )
  );
}

/**
 * Writes the lease when it changed (the contact moves with every heartbeat,
 * tasks start and stop), never the same lease twice in a row.
 */
export class LeaseWriter {
  private last: string | undefined;

  constructor(readonly dataDir: string) {}

  /** true when it wrote */
  async update(lease: AgentLease): Promise<boolean> {
    const text = JSON.stringify(lease);
    if (text === this.last) return false;
    await writeLease(this.dataDir, lease);
    this.last = text;
    return true;
  }
}

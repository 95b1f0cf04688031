/**
 * What the agent keeps on disk so that a restarted agent re-attaches to its
 * tasks instead of starting duplicates: one `state.json` per alloc under
 * `<dataDir>/allocs/<allocId>/`. Every write is atomic (a temp file renamed
 * over the old one), so a crash mid-write leaves the previous version intact.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AgentAlloc, AllocClientStatus, AllocStatusUpdate, TaskState } from '../api/types.js';
import type { TaskHandle } from '../drivers/driver.js';

export interface PersistedTask {
  /** set as soon as the driver started the task; cleared when it was destroyed for a restart */
  handle?: TaskHandle;
  /** resume point of the log stream after the last batch the server acknowledged */
  logCursor?: string;
  /** epoch ms of local restarts, for the restart policy */
  restartTimes: number[];
  state: TaskState;
  /** the driver freed the task's resources (destroy() done) */
  destroyed?: boolean;
  /** cpu time of the task's earlier runs on this node (restarts in place), added to the current run's */
  cpuNanosBefore?: number;
}

export interface AllocStateFile {
  version: 1;
  allocId: string;
  /** the node the tasks were started for (it changes if the agent had to register again) */
  nodeId: string;
  /** the alloc and job version as received: enough to run it without the server */
  agentAlloc: AgentAlloc;
  desiredStop: boolean;
  clientStatus: AllocClientStatus;
  clientDescription: string;
  tasks: Record<string, PersistedTask>;
  /** the latest status not yet acknowledged by the server: re-sent after a restart */
  pendingReport?: AllocStatusUpdate;
}

let tmpCounter = 0;

/**
 * Write JSON atomically: a unique temp file in the same directory, then rename.
 * With `durable`, fsync before the rename so a power cut cannot leave an empty file.
 */
export async function writeJsonAtomic(path: string, value: unknown, opts: { mode?: number; durable?: boolean } = {}): Promise<void> {
  // serialize first: a value that cannot be written must not leave a temp file behind
  const text = `${JSON.stringify(value, null, 2)}\n`;
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${++tmpCounter}.${randomBytes(3).toString('hex')}.tmp`;
  const fh = await open(tmp, 'w', opts.mode ?? 0o644);
  try {
    await fh.writeFile(text, 'utf8');
    if (opts.mode !== undefined) await fh.chmod(opts.mode); // the umask may have narrowed or widened it
    if (opts.durable) await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** undefined when the file does not exist; throws on unreadable or corrupt JSON */
export async function readJson<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return JSON.parse(text) as T;
}

export class StateStore {
  constructor(readonly dataDir: string) {}

  get allocsDir(): string {
    return join(this.dataDir, 'allocs');
  }

  allocDir(allocId: string): string {
    return join(this.allocsDir, safeName(allocId));
  }

  taskDir(allocId: string, task: string): string {
    return join(this.allocDir(allocId), safeName(task));
  }

  statePath(allocId: string): string {
    return join(this.allocDir(allocId), 'state.json');
  }

  write(state: AllocStateFile): Promise<void> {
    return writeJsonAtomic(this.statePath(state.allocId), state);
  }

  read(allocId: string): Promise<AllocStateFile | undefined> {
    return readJson<AllocStateFile>(this.statePath(allocId));
  }

  /** every alloc state on disk; unreadable ones are returned as errors so the caller can log them */
  async readAll(): Promise<{ states: AllocStateFile[]; errors: Array<{ allocId: string; error: string }> }> {
    let names: string[];
    try {
      names = await readdir(this.allocsDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { states: [], errors: [] };
      throw err;
    }
    const states: AllocStateFile[] = [];
    const errors: Array<{ allocId: string; error: string }> = [];
    for (const name of names.sort()) {
      try {
        const s = await readJson<AllocStateFile>(join(this.allocsDir, name, 'state.json'));
        if (s === undefined) continue;
        if (!isAllocState(s)) throw new Error('not an alloc state file');
        states.push(s);
      } catch (err) {
        errors.push({ allocId: name, error: err instanceof Error ? err.message : String(err) });
      }
    }
    return { states, errors };
  }

  async remove(allocId: string): Promise<void> {
    await rm(this.allocDir(allocId), { recursive: true, force: true });
  }
}

function isAllocState(s: unknown): s is AllocStateFile {
  const v = s as AllocStateFile;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.allocId === 'string' &&
    typeof v.tasks === 'object' &&
    v.tasks !== null &&
    typeof v.agentAlloc?.alloc?.id === 'string' &&
    Array.isArray(v.agentAlloc?.job?.tasks)
  );
}

/** ids and task names come from the server: never let one escape the data dir */
function safeName(s: string): string {
  const cleaned = s.replace(/[^A-Za-z0-9._-]/g, '_');
  return cleaned === '' || cleaned === '.' || cleaned === '..' ? `_${cleaned}` : cleaned;
}

/**
 * What the agent keeps on disk so that a restarted agent re-attaches to its
 * tasks instead of starting duplicates: the state of each alloc under
 * `<dataDir>/allocs/<allocId>/`, in two slots (`state.0.json`, `state.1.json`)
 * written in turn, each stamped with a sequence number. A crash mid-write can
 * only tear the slot being written; the reader takes the newest slot that
 * parses, so the previous version survives. Overwriting a slot costs a
 * fraction of creating a temp file and renaming it over the old one (which
 * is what `writeJsonAtomic` does for files written rarely), and an alloc's
 * state is written several times in its life: with hundreds of short runs per
 * minute that difference was most of the agent's work per run.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, existsSync, fchmodSync, ftruncateSync, open as openCb, readdirSync, rmdirSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, unlink } from 'node:fs/promises';
import { promisify } from 'node:util';
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
  /** why the agent stopped the alloc itself (it lost the server for too long): it ends as lost */
  lostReason?: string;
  /** when it was (ISO): a batch run that had succeeded before then keeps its result */
  lostAt?: string;
  clientStatus: AllocClientStatus;
  clientDescription: string;
  tasks: Record<string, PersistedTask>;
  /** the latest status not yet acknowledged by the server: re-sent after a restart */
  pendingReport?: AllocStatusUpdate;
}

let tmpCounter = 0;
const openFd = promisify(openCb);

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

interface Slot {
  seq: number;
  state: AllocStateFile;
}

const SLOTS = ['state.0.json', 'state.1.json'] as const;

interface OpenSlot {
  fd: number;
  /** what the file holds now, in bytes; undefined for a slot an earlier agent wrote */
  length?: number;
}
/** written by earlier versions (one file, renamed into place); read, never written */
const LEGACY = 'state.json';

export class StateStore {
  /** per alloc: the sequence number of the last write (its slot is seq % 2) */
  private readonly seqs = new Map<string, number>();
  /** per alloc, its open slot files, each with its length where known (a slot this agent made or wrote) */
  private readonly slots = new Map<string, Array<OpenSlot | undefined>>();

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

  /**
   * Callers must not overlap writes of one alloc (the alloc runner queues
   * them): two writes in flight could both land in the same slot.
   *
   * Only making a slot's file is done on libuv's thread pool (creating an
   * inode can take a millisecond on some disks); writing a few KiB into an open
   * file and cutting it are microseconds, while a hand-off to the pool and back
   * costs tens of them in cpu, and an alloc is written several times in its life.
   */
  async write(state: AllocStateFile): Promise<void> {
    // serialize first: a value that cannot be written must not touch either slot
    let seq = this.seqs.get(state.allocId);
    seq = (seq ?? (await this.newest(state.allocId))?.seq ?? 0) + 1;
    const data = Buffer.from(JSON.stringify({ seq, state } satisfies Slot));
    const slot = await this.slot(state.allocId, seq % 2);
    // in place: a torn write leaves this slot unreadable and the other one as it was
    let off = 0;
    while (off < data.length) off += writeSync(slot.fd, data, off, data.length - off, off);
    // cut off what is left of a longer state before it; nothing to cut when it was as short
    if (slot.length === undefined || slot.length > data.length) ftruncateSync(slot.fd, data.length);
    slot.length = data.length;
    this.seqs.set(state.allocId, seq);
  }

  /** the slot's file, kept open while the alloc lives: opening it for every write cost more than writing */
  private async slot(allocId: string, n: number): Promise<OpenSlot> {
    let held = this.slots.get(allocId);
    if (!held) this.slots.set(allocId, (held = []));
    const have = held[n];
    if (have) return have;
    const path = join(this.allocDir(allocId), SLOTS[n]);
    // read-write, neither truncated (the slot may hold the newest good state) nor appending;
    // the alloc's spec and payload are for the agent only: tasks run as other users and pass through
    const fresh = (): Promise<number> => openFd(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
    let slot: OpenSlot;
    try {
      slot = { fd: await fresh(), length: 0 };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        await mkdir(this.allocDir(allocId), { recursive: true, mode: 0o711 });
        slot = { fd: await fresh(), length: 0 };
      } else if (code === 'EEXIST') {
        // a slot an earlier agent wrote: its length is not known, and one made by an older agent was 0644
        slot = { fd: await openFd(path, constants.O_RDWR, 0o600) };
        fchmodSync(slot.fd, 0o600);
      } else {
        throw err;
      }
    }
    // the alloc was removed while its file was being opened: not kept, or it would leak
    if (this.slots.get(allocId) !== held) {
      closeSync(slot.fd);
      throw new Error(`alloc ${allocId} was removed while its state was being written`);
    }
    held[n] = slot;
    return slot;
  }

  async read(allocId: string): Promise<AllocStateFile | undefined> {
    return (await this.newest(allocId))?.state;
  }

  /** the newest slot that parses; throws only when there are slots and none of them does */
  private async newest(allocId: string): Promise<Slot | undefined> {
    const dir = this.allocDir(allocId);
    // a new alloc's first write: no dir yet, so nothing to read (three failed opens saved per run)
    if (!existsSync(dir)) return undefined;
    let best: Slot | undefined;
    let error: unknown;
    let found = false;
    for (const name of SLOTS) {
      try {
        const v = await readJson<Slot>(join(dir, name));
        if (v === undefined) continue;
        found = true;
        if (typeof v.seq !== 'number' || !isAllocState(v.state)) throw new Error(`${name} is not an alloc state file`);
        if (!best || v.seq > best.seq) best = v;
      } catch (err) {
        found = true;
        error = err;
      }
    }
    if (!best) {
      try {
        const legacy = await readJson<AllocStateFile>(join(dir, LEGACY));
        if (legacy !== undefined) {
          if (!isAllocState(legacy)) throw new Error('not an alloc state file');
          best = { seq: 0, state: legacy };
        }
      } catch (err) {
        found = true;
        error = err;
      }
    }
    if (!best && found) throw error instanceof Error ? error : new Error(String(error));
    if (best) this.seqs.set(allocId, Math.max(best.seq, this.seqs.get(allocId) ?? 0));
    return best;
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
        const s = (await this.newest(name))?.state;
        if (s !== undefined) states.push(s);
      } catch (err) {
        errors.push({ allocId: name, error: err instanceof Error ? err.message : String(err) });
      }
    }
    return { states, errors };
  }

  async remove(allocId: string): Promise<void> {
    this.seqs.delete(allocId);
    const held = this.slots.get(allocId) ?? [];
    this.slots.delete(allocId);
    for (const slot of held) {
      if (!slot) continue;
      try {
        closeSync(slot.fd);
      } catch {
        // closed already
      }
    }
    const dir = this.allocDir(allocId);
    // what a run leaves is a handful of small files: removed here, a call each; anything
    // more (a task that filled its dir, a mount) goes on the thread pool
    if (!removeSmallTree(dir, SMALL_TREE_ENTRIES)) await rm(dir, { recursive: true, force: true });
  }
}

/** at most this many entries are removed on the agent's thread; a bigger alloc dir on the thread pool */
const SMALL_TREE_ENTRIES = 32;

/**
 * Removes `dir` and what is in it with synchronous calls when that is at most
 * `budget` entries two levels deep (the alloc dir, its task dirs); false when
 * it is bigger or anything is unexpected, with whatever was removed gone.
 * Entries are unlinked, never followed: a link a task left in its dir is
 * removed itself.
 */
function removeSmallTree(dir: string, budget: number): boolean {
  try {
    let left = budget;
    const walk = (d: string, depth: number): boolean => {
      const entries = readdirSync(d, { withFileTypes: true });
      left -= entries.length;
      if (left < 0) return false;
      for (const e of entries) {
        const p = join(d, e.name);
        if (e.isDirectory()) {
          if (depth >= 1 || !walk(p, depth + 1)) return false;
        } else {
          unlinkSync(p);
        }
      }
      rmdirSync(d);
      return true;
    };
    return walk(dir, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' && !existsSync(dir);
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

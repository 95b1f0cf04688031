import { mkdtemp, readdir, readFile, rm, stat, symlink, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readJson, StateStore, writeJsonAtomic, type AllocStateFile } from './state-file.js';
import { jobSpec } from './task-runner.fixture.js';

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'baton-agent-state-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sample(allocId: string, cursor = 'c1'): AllocStateFile {
  const job = jobSpec({
    name: 'web',
    type: 'service',
    tasks: [
      {
        name: 'main',
        driver: 'exec',
        command: '/bin/sleep',
        args: ['10'],
        env: {},
        resources: { cpu: 100, memory: 1 << 25, disk: 0 },
        killSignal: 'SIGTERM',
        killTimeoutMs: 1000,
      },
    ],
    restart: { attempts: 2, intervalMs: 60_000, delayMs: 1000, mode: 'fail' },
  });
  return {
    version: 1,
    allocId,
    nodeId: 'node-1',
    agentAlloc: { alloc: { id: allocId } as AgentAllocAlloc, job },
    desiredStop: false,
    clientStatus: 'running',
    clientDescription: 'task running',
    tasks: {
      main: {
        handle: { driver: 'exec', id: '4242', data: { pgid: 4242 } },
        logCursor: cursor,
        restartTimes: [1, 2],
        state: {
          state: 'running',
          failed: false,
          restarts: 2,
          startedAt: '2024-01-01T00:00:00.000Z',
          events: [{ time: 't', type: 'Started', message: 'started' }],
        },
      },
    },
  };
}
type AgentAllocAlloc = AllocStateFile['agentAlloc']['alloc'];

describe('StateStore', () => {
  it('reads back exactly what it wrote', async () => {
    const store = new StateStore(dir);
    const s = sample('a1');
    await store.write(s);
    expect(await store.read('a1')).toEqual(s);
    expect(await readdir(store.allocDir('a1'))).toEqual(['state.1.json']);
  });

  it('writes the two slots in turn and reads the newest, also from a new instance', async () => {
    const store = new StateStore(dir);
    // the first write is long, the third (same slot) short: the slot must not keep the old tail
    for (const c of [`c1${'x'.repeat(5000)}`, 'c2', 'c3']) await store.write(sample('a1', c));
    expect((await readdir(store.allocDir('a1'))).sort()).toEqual(['state.0.json', 'state.1.json']);
    const again = new StateStore(dir);
    expect((await again.read('a1'))?.tasks.main.logCursor).toBe('c3');
    // an agent restart goes on with the sequence: the next write replaces the older slot
    await again.write(sample('a1', 'c4'));
    expect((await new StateStore(dir).read('a1'))?.tasks.main.logCursor).toBe('c4');
    expect(JSON.parse(await readFile(join(store.allocDir('a1'), 'state.0.json'), 'utf8')).seq).toBe(4);
  });

  it('falls back to the previous version when the newest slot was torn by a crash', async () => {
    const store = new StateStore(dir);
    await store.write(sample('a1', 'old'));
    await store.write(sample('a1', 'new'));
    const newest = join(store.allocDir('a1'), 'state.0.json');
    const text = await readFile(newest, 'utf8');
    await writeFile(newest, text.slice(0, text.length / 2));
    expect((await new StateStore(dir).read('a1'))?.tasks.main.logCursor).toBe('old');
    // and the next write does not overwrite the good one
    const fresh = new StateStore(dir);
    await fresh.write(sample('a1', 'next'));
    expect((await new StateStore(dir).read('a1'))?.tasks.main.logCursor).toBe('next');
    expect(JSON.parse(await readFile(join(store.allocDir('a1'), 'state.1.json'), 'utf8')).state.tasks.main.logCursor).toBe('old');
  });

  it('reads the single state.json of earlier versions', async () => {
    const store = new StateStore(dir);
    await mkdir(store.allocDir('a1'), { recursive: true });
    await writeFile(join(store.allocDir('a1'), 'state.json'), JSON.stringify(sample('a1', 'legacy')));
    expect((await store.readAll()).states.map((s) => s.tasks.main.logCursor)).toEqual(['legacy']);
    await store.write(sample('a1', 'now'));
    expect((await new StateStore(dir).read('a1'))?.tasks.main.logCursor).toBe('now');
  });

  it('is undefined for an alloc it never wrote', async () => {
    expect(await new StateStore(dir).read('nope')).toBeUndefined();
  });

  it('lists every state and reports corrupt ones instead of throwing', async () => {
    const store = new StateStore(dir);
    await store.write(sample('a1'));
    await store.write(sample('a2'));
    await mkdir(store.allocDir('bad'), { recursive: true });
    await writeFile(join(store.allocDir('bad'), 'state.1.json'), '{"seq": 1, "state": {"allocId": "bad", trunc');
    await mkdir(store.allocDir('empty'), { recursive: true }); // no state.json: skipped silently
    const { states, errors } = await store.readAll();
    expect(states.map((s) => s.allocId)).toEqual(['a1', 'a2']);
    expect(errors.map((e) => e.allocId)).toEqual(['bad']);
  });

  it('lists nothing when no alloc was ever run', async () => {
    expect(await new StateStore(join(dir, 'fresh')).readAll()).toEqual({ states: [], errors: [] });
  });

  it('keeps ids from the server inside the data dir', () => {
    const store = new StateStore(dir);
    expect(store.allocDir('../../etc')).toBe(join(dir, 'allocs', '.._.._etc'));
    expect(store.taskDir('a1', '..')).toBe(join(dir, 'allocs', 'a1', '_..'));
  });

  it('removes an alloc directory', async () => {
    const store = new StateStore(dir);
    await store.write(sample('a1'));
    await store.remove('a1');
    expect(await store.read('a1')).toBeUndefined();
  });

  // a small dir goes call by call on the agent's thread, a big or deep one on the pool: both must be gone whole,
  // and a link a task left in its dir is removed, never followed
  it.each([
    ['a run that left its logs', 3, 0],
    ['a task that filled its dir', 200, 0],
    ['a task with nested dirs', 2, 3],
  ])('removes the alloc directory of %s, and never what a link in it points at', async (_what, files, depth) => {
    const store = new StateStore(dir);
    await store.write(sample('a2'));
    await store.write(sample('a2', 'c2'));
    const outside = join(dir, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'keep.txt'), 'keep');
    let task = store.taskDir('a2', 'main');
    await mkdir(task, { recursive: true });
    await symlink(outside, join(task, 'link-out'));
    for (let d = 0; d <= depth; d++) {
      for (let i = 0; i < files; i++) await writeFile(join(task, `f${i}.log`), 'x');
      if (d < depth) await mkdir((task = join(task, `sub${d}`)));
    }
    await store.remove('a2');
    await expect(stat(store.allocDir('a2'))).rejects.toThrow(/ENOENT/);
    expect(await readFile(join(outside, 'keep.txt'), 'utf8')).toBe('keep');
    // and a new alloc of the same id starts from nothing
    expect(await store.read('a2')).toBeUndefined();
    await store.write(sample('a2', 'c3'));
    expect((await store.read('a2'))?.tasks.main.logCursor).toBe('c3');
  });
});

describe('writeJsonAtomic', () => {
  it('never lets a reader see a half-written file, and leaves no temp files', async () => {
    const path = join(dir, 'allocs', 'x', 'state.json');
    const big = (i: number) => sample('x', `cursor-${i}-${'y'.repeat(200_000)}`);
    await writeJsonAtomic(path, big(0));
    let reads = 0;
    let writing = true;
    const reader = (async () => {
      while (writing) {
        const v = await readJson<AllocStateFile>(path); // throws on a torn file
        expect(v?.tasks.main.logCursor).toMatch(/^cursor-\d+-/);
        reads++;
      }
    })();
    await Promise.all(Array.from({ length: 20 }, (_, i) => writeJsonAtomic(path, big(i + 1))));
    writing = false;
    await reader;
    expect(reads).toBeGreaterThan(0);
    expect(await readdir(join(dir, 'allocs', 'x'))).toEqual(['state.json']);
  });

  it('sets the requested mode whatever the umask', async () => {
    const path = join(dir, 'node.json');
    await writeJsonAtomic(path, { secret: 's' }, { mode: 0o600, durable: true });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ secret: 's' });
  });

  it('replaces the old content only when the new one is complete', async () => {
    const path = join(dir, 'v.json');
    await writeJsonAtomic(path, { v: 1 });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(writeJsonAtomic(path, cyclic)).rejects.toThrow();
    expect(await readJson(path)).toEqual({ v: 1 });
    expect(await readdir(dir)).toEqual(['v.json']);
  });
});

/**
 * The eval worker on a store whose disk is full: a real SQLite file on a
 * small tmpfs (root only, so CI always runs it). It must pause with the
 * reason instead of spinning, keep the eval, and carry on when space frees.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJobSource } from '../spec/parse.js';
import { StoreWriteError } from '../store/errors.js';
import { openSqlite } from '../store/sqlite/backend.js';
import { Store } from '../store/store.js';
import { EvalWorker } from './eval-worker.js';
import { nodeRequest, until } from './server.fixture.js';

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('EvalWorker when the store cannot write', () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-full-'));
  beforeAll(() => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', dir]);
  });
  afterAll(() => {
    // lazily: a failed test may leave the store's file open
    execFileSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('pauses with the reason, doubling the pause, keeps the eval, and places it once space frees', async () => {
    const store = await Store.open(openSqlite(join(dir, 'baton.db')), { logCapBytes: 1 << 20 });
    const lines: Array<{ msg: string; err?: string; retryInMs?: number }> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as (typeof lines)[number]);
        cb();
      },
    });
    const worker = new EvalWorker(store, pino({ level: 'info' }, sink));
    try {
      const { id: nodeId } = await store.registerNode(nodeRequest('n1'), 'secret', 60_000, Date.now());
      await store.heartbeat(nodeId, Date.now());
      const job = (name: string, count: number) =>
        parseJobSource(
          `name: ${name}\ntype: batch\ncount: ${count}\nmeta: { pad: "${'x'.repeat(4000)}" }\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n    resources: { cpu: 10m, memory: 4Mi }\n`,
        ).spec;
      await store.registerJob(job('wide', 200), Date.now());

      // the disk fills up before the worker takes the eval
      const fill = join(dir, 'fill');
      try {
        writeFileSync(fill, Buffer.alloc(8 << 20));
      } catch {
        // ENOSPC: the file holds what room there was
      }
      await expect(store.registerJob(job('other', 1), Date.now())).rejects.toBeInstanceOf(StoreWriteError);

      worker.start();
      const paused = () => lines.filter((l) => l.msg === 'the store cannot write: evaluations paused');
      await until(async () => paused().length >= 2, 'two paused evaluations');
      expect(paused()[0].err).toMatch(/^disk full: /);
      expect(paused()[0].err).not.toMatch(/cannot rollback/);
      expect(
        paused()
          .map((l) => l.retryInMs)
          .slice(0, 2),
      ).toEqual([1000, 2000]);
      const pending = await store.listEvals({ namespace: 'default', jobId: 'wide' });
      expect(pending.map((e) => e.status)).toEqual(['pending']);

      unlinkSync(fill);
      await until(
        async () => (await store.listAllocs({ namespace: 'default', jobId: 'wide' })).length === 200 || undefined,
        'the allocs placed after space freed',
      );
      expect(lines.some((l) => l.msg === 'the store writes again: evaluations carry on')).toBe(true);
    } finally {
      await worker.stop();
      await store.close();
    }
  });
});

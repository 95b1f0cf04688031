/**
 * The heartbeat monitor never blames nodes for the server's own trouble: a
 * mass silence is marked down one node per TTL, and after a full disk every
 * node gets a fresh TTL when the store writes again (a real SQLite file on a small tmpfs, root only).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJobSource } from '../spec/parse.js';
import { openSqlite } from '../store/sqlite/backend.js';
import { Store } from '../store/store.js';
import { decideSilent, HeartbeatMonitor } from './heartbeat-monitor.js';
import { nodeRequest, until } from './server.fixture.js';

describe('decideSilent', () => {
  it('marks every silent node down while most are heard', () => {
    expect(decideSilent(['a'], 2, 0, 1000, undefined)).toEqual({ down: ['a'], slowed: false });
    expect(decideSilent(['a', 'b'], 5, 0, 1000, undefined)).toEqual({ down: ['a', 'b'], slowed: false });
  });

  it('marks one per TTL when most go silent at once', () => {
    expect(decideSilent(['a', 'b', 'c'], 4, 0, 1000, undefined)).toEqual({ down: ['a'], slowed: true });
    expect(decideSilent(['b', 'c'], 3, 500, 1000, 0)).toEqual({ down: [], slowed: true });
    expect(decideSilent(['b', 'c'], 3, 1000, 1000, 0)).toEqual({ down: ['b'], slowed: true });
  });
});

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('HeartbeatMonitor when the store cannot write', () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-hb-full-'));
  beforeAll(() => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', dir]);
  });
  afterAll(() => {
    execFileSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('grants every node a fresh TTL when the store writes again, instead of marking down the nodes it could not hear', async () => {
    const store = await Store.open(openSqlite(join(dir, 'baton.db')), { logCapBytes: 1 << 20 });
    const ttl = 600;
    const monitor = new HeartbeatMonitor(store, ttl, pino({ level: 'silent' }));
    const { id: nodeId } = await store.registerNode(nodeRequest('n1'), 'secret', ttl, Date.now());
    await store.heartbeat(nodeId, Date.now());
    await store.registerJob(
      parseJobSource(
        'name: svc\ntype: service\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sleep\n    resources: { cpu: 100m, memory: 32Mi }\n',
      ).spec,
      Date.now(),
    );
    const fill = join(dir, 'fill');
    let beating: NodeJS.Timeout | undefined;
    try {
      monitor.start();
      try {
        writeFileSync(fill, Buffer.alloc(8 << 20));
      } catch {
        // ENOSPC: the file holds what room there was
      }
      await expect(store.flushHeartbeats()).rejects.toThrow(/^disk full: the server's data directory has no space left.*SQLITE_FULL/);
      // several TTLs in which the server hears nothing of the node (it was busy failing, say)
      await new Promise((r) => setTimeout(r, 4 * ttl));
      expect((await store.getNode(nodeId)).status).toBe('ready');
      unlinkSync(fill);
      await until(async () => {
        await store.flushHeartbeats();
        return true;
      }, 'the store to write again');
      // the monitor has checked since (every TTL/4) and found the node silent for 4 TTLs: it is
      // within the fresh TTL it grants on recovery, and the node beats again in it
      await new Promise((r) => setTimeout(r, ttl / 2));
      expect((await store.getNode(nodeId)).status).toBe('ready');
      beating = setInterval(() => void store.heartbeat(nodeId, Date.now()), ttl / 6);
      await store.heartbeat(nodeId, Date.now());
      await new Promise((r) => setTimeout(r, 3 * ttl));
      expect((await store.getNode(nodeId)).status).toBe('ready');
      // and it does mark down a node that really is silent, a TTL after
      clearInterval(beating);
      await until(async () => (await store.getNode(nodeId)).status === 'down', 'the silent node to be marked down');
    } finally {
      clearInterval(beating);
      monitor.stop();
      await store.close();
    }
  }, 30_000);
});

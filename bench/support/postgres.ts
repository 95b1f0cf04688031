/**
 * A private PostgreSQL for the benchmarks, in one of two configurations:
 *
 * - 'fast': test/support/postgres.ts's own (fsync, synchronous_commit and
 *   full_page_writes off): what the suites run on, but a commit returns
 *   before its WAL reaches the disk, so write-heavy figures flatter baton.
 * - 'durable': PostgreSQL's defaults (every commit flushed before it
 *   returns), what a production database runs. Started here because the
 *   suites' starter passes its settings on the command line, where nothing
 *   (ALTER SYSTEM, a reload) can override them.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../test/support/cluster.js';
import { findPostgres, startPostgres, type PrivatePostgres } from '../../test/support/postgres.js';

export type PostgresMode = 'fast' | 'durable';

export const POSTGRES_MODE_NOTE: Record<PostgresMode, string> = {
  fast: 'fsync=off, synchronous_commit=off, full_page_writes=off (the test suites\' settings: not crash-safe)',
  durable: 'PostgreSQL\'s defaults: fsync=on, synchronous_commit=on, full_page_writes=on (crash-safe)',
};

export async function startBenchPostgres(mode: PostgresMode): Promise<PrivatePostgres> {
  return mode === 'fast' ? startPostgres() : startDurablePostgres();
}

/** initdb's postgres user as root (initdb refuses root), or nothing to change */
function runAs(): { uid: number; gid: number } | Record<string, never> {
  if (process.getuid?.() !== 0) return {};
  const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (uid.status !== 0) throw new Error('running as root, but there is no postgres user to run PostgreSQL as');
  return { uid: Number(uid.stdout), gid: Number(gid.stdout) };
}

async function startDurablePostgres(): Promise<PrivatePostgres> {
  const found = findPostgres();
  if ('missing' in found) throw new Error(found.missing);
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-pg-'));
  const ids = runAs();
  if ('uid' in ids) chownSync(dir, ids.uid, ids.gid);
  const data = join(dir, 'data');
  const init = spawnSync(join(found.bin, 'initdb'), ['-D', data, '-U', 'baton', '--auth=trust', '-E', 'UTF8'], { encoding: 'utf8', cwd: dir, ...ids });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout || init.error?.message}`);
  const port = await freePort();
  // only what a bench needs to reach it: every durability setting stays at its default
  const proc = spawn(join(found.bin, 'postgres'), ['-D', data, '-p', String(port), '-h', '127.0.0.1', '-k', dir, '-c', 'max_connections=100'],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], ...ids });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
  const adminUrl = `postgres://baton@127.0.0.1:${port}/postgres`;
  await waitUntilAnswering(adminUrl, () => (proc.exitCode !== null ? `postgres exited with ${proc.exitCode}: ${stderr}` : undefined));
  return {
    adminUrl,
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGINT');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitUntilAnswering(url: string, died: () => string | undefined): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const why = died();
    if (why) throw new Error(why);
    const c = new pg.Client({ connectionString: url });
    try {
      await c.connect();
      await c.end();
      return;
    } catch (err) {
      await c.end().catch(() => undefined);
      if (Date.now() > deadline) throw new Error(`postgres did not answer in 30 s: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** the settings the server really runs with, read back from it (not what was asked for) */
export async function durabilitySettings(url: string): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ name: string; setting: string }>(
      "select name, setting from pg_settings where name in ('fsync', 'synchronous_commit', 'full_page_writes') order by name");
    return r.rows.map((x) => `${x.name}=${x.setting}`).join(', ');
  } finally {
    await c.end();
  }
}

/**
 * A private PostgreSQL for the suites: one server per test run (vitest's
 * global setup starts it), one fresh database per store a test opens. The
 * server is Debian's `postgresql` package run by hand (initdb + postgres) on
 * a free loopback port and a socket directory of its own, so it never
 * touches a system cluster. Suites skip without it on a laptop, but not when
 * BATON_REQUIRE_POSTGRES=1 (CI).
 */
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './cluster.js';

export const postgresRequired = process.env.BATON_REQUIRE_POSTGRES === '1';

/** initdb and postgres of the newest PostgreSQL installed, or a reason there is none */
export function findPostgres(): { bin: string } | { missing: string } {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) return { missing: `no PostgreSQL under ${root} (apt-get install postgresql)` };
  return { bin: join(root, versions[0], 'bin') };
}

export interface PrivatePostgres {
  /** a URL of the `postgres` database, for making and dropping test databases */
  adminUrl: string;
  stop(): Promise<void>;
}

/**
 * Starts a throwaway PostgreSQL server; as root it runs as the `postgres` user, which initdb requires.
 * By default without fsync (a test database need not survive a power cut); `durable` keeps
 * PostgreSQL's own settings, for benchmarks that must not flatter commits.
 */
export async function startPostgres(opts: { durable?: boolean } = {}): Promise<PrivatePostgres> {
  const found = findPostgres();
  if ('missing' in found) throw new Error(found.missing);
  const dir = mkdtempSync(join(tmpdir(), 'baton-pg-'));
  const data = join(dir, 'data');
  // initdb refuses to run as root: as root, both run as the postgres user the package made
  let ids: { uid: number; gid: number } | Record<string, never> = {};
  if (process.getuid?.() === 0) {
    const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    if (uid.status !== 0) throw new Error('running as root, but there is no postgres user to run PostgreSQL as (apt-get install postgresql makes it)');
    ids = { uid: Number(uid.stdout), gid: Number(gid.stdout) };
    chownSync(dir, ids.uid, ids.gid);
  }
  const init = spawnSync(join(found.bin, 'initdb'), ['-D', data, '-U', 'baton', '--auth=trust', '-E', 'UTF8', ...(opts.durable ? [] : ['--no-sync'])], {
    encoding: 'utf8',
    cwd: dir,
    ...ids,
  });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout || init.error?.message}`);
  const port = await freePort();
  // fsync off: a test database need not survive a power cut, and fsync is most of a write's cost here
  const fast = opts.durable ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'];
  const proc = spawn(join(found.bin, 'postgres'), ['-D', data, '-p', String(port), '-h', '127.0.0.1', '-k', dir, ...fast, '-c', 'max_connections=300'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
    ...ids,
  });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const adminUrl = `postgres://baton@127.0.0.1:${port}/postgres`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`postgres exited with ${proc.exitCode}: ${stderr}`);
    const c = new pg.Client({ connectionString: adminUrl });
    try {
      await c.connect();
      await c.end();
      break;
    } catch (err) {
      await c.end().catch(() => undefined);
      if (Date.now() > deadline) throw new Error(`postgres did not answer on port ${port} in 30 s: ${(err as Error).message}\n${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    adminUrl,
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        // SIGINT: PostgreSQL's fast shutdown (ends sessions, no wait for clients)
        proc.kill('SIGINT');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Makes an empty database on the private server and returns its URL. */
export async function freshDatabase(adminUrl: string, name = `baton_${Math.random().toString(36).slice(2, 10)}`): Promise<string> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(`create database ${name}`);
  } finally {
    await c.end();
  }
  return adminUrl.replace(/\/postgres$/, `/${name}`);
}

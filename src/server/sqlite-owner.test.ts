import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ownSqliteFile } from './sqlite-owner.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function fileIn(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'baton-owner-'));
  dirs.push(d);
  return join(d, 'baton.db');
}

describe('ownSqliteFile', () => {
  it('refuses a file another live server process holds, and takes it over once that process is gone', async () => {
    const file = await fileIn();
    // another process, as a second `baton server` would be
    const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    await writeFile(`${file}.server`, `${other.pid} ${hostname()}\n`);
    await expect(ownSqliteFile(file)).rejects.toThrow(
      new RegExp(`another baton server \\(pid ${other.pid}\\) is using .*baton.db: a SQLite store is one server's`),
    );
    other.kill('SIGKILL');
    await new Promise((r) => other.once('exit', r));
    const release = await ownSqliteFile(file);
    expect((await readFile(`${file}.server`, 'utf8')).trim()).toBe(`${process.pid} ${hostname()}`);
    await release();
    await expect(readFile(`${file}.server`, 'utf8')).rejects.toThrow(/ENOENT/);
  });

  it('refuses a lock written on another host (a shared disk) and says how to clear it', async () => {
    const file = await fileIn();
    await writeFile(`${file}.server`, '4242 some-other-host\n');
    await expect(ownSqliteFile(file)).rejects.toThrow(/a baton server on some-other-host uses .*if that server is gone for good, delete .*baton.db.server/);
  });
});

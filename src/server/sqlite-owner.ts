/**
 * A SQLite store is one server's: a second server on the same file would
 * lead too, and both would schedule the same work. The first server to open
 * the file writes `<file>.server` (its pid and host); another refuses to
 * start while that process lives. A lock left by a server that was killed
 * is taken over.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, as another user's
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function ownSqliteFile(file: string): Promise<() => Promise<void>> {
  const lock = `${file}.server`;
  const me = `${process.pid} ${hostname()}`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(lock, `${me}\n`, { flag: 'wx', mode: 0o600 });
      return async () => {
        // only our own: a server that took over a lock it thought stale must keep it
        if ((await readFile(lock, 'utf8').catch(() => '')).trim() === me) await rm(lock, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const [pidText, host] = (await readFile(lock, 'utf8').catch(() => '')).trim().split(' ');
    const pid = Number(pidText);
    if (host === hostname() && Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new Error(
        `another baton server (pid ${pid}) is using ${file}: a SQLite store is one server's; stop it first, or run several servers on PostgreSQL (--store postgres://…)`,
      );
    }
    if (host && host !== hostname()) {
      throw new Error(
        `${lock} says a baton server on ${host} uses ${file} (a shared disk?): a SQLite store is one server's; if that server is gone for good, delete ${lock}`,
      );
    }
    // the server that wrote it is gone (killed): take over
    await rm(lock, { force: true });
  }
  throw new Error(`cannot take ${lock}: another server is starting on ${file} at the same time`);
}

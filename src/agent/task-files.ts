/**
 * Writing into a directory a task controls. The agent runs as root and the
 * task may have replaced any name in its dir with a symlink (or a hard link)
 * to a host file since the last write: following it would write onto the host.
 * So the old name is unlinked and the file created anew with O_EXCL|O_NOFOLLOW
 * (a link put back in between makes the open fail, never followed), and the
 * directory itself must be a real directory, not a link.
 */
import { constants } from 'node:fs';
import { lstat, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';

export interface TaskFileOptions {
  mode?: number;
  /** hand the file to the task's user */
  owner?: { uid: number; gid: number };
}

export async function writeTaskFile(dir: string, name: string, data: Buffer | string, opts: TaskFileOptions = {}): Promise<void> {
  if (name.includes('/') || name === '' || name === '.' || name === '..') throw new Error(`"${name}" is not a plain file name`);
  const st = await lstat(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory (a link?): refusing to write ${name} into it`);
  const path = join(dir, name);
  try {
    await unlink(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EISDIR' || code === 'EPERM') throw new Error(`${path} is a directory: cannot write the file there`);
    if (code !== 'ENOENT') throw err;
  }
  const mode = opts.mode ?? 0o644;
  const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode).catch((err: NodeJS.ErrnoException) => {
    throw new Error(
      `cannot create ${path}: ${err.code === 'EEXIST' || err.code === 'ELOOP' ? 'something took its place while writing (a link?)' : err.message}`,
    );
  });
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // the umask may have narrowed it
    if (opts.owner) await fh.chown(opts.owner.uid, opts.owner.gid);
  } finally {
    await fh.close();
  }
}

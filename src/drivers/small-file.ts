/**
 * Reads of the small kernel files the exec driver looks at for every task
 * (/proc/<pid>/stat, cgroup counters). readFileSync opens, stats, reads until
 * a read returns nothing and closes: five system calls for a line of text.
 * These files are produced whole by the kernel on the first read, so an
 * open, one read into a reused buffer and a close do; a file that fills the
 * buffer is read on until it ends.
 */
import { closeSync, constants, openSync, readSync } from 'node:fs';

const BUF = Buffer.alloc(4096);

/** the file's text, or undefined when it cannot be opened or read */
export function readSmallFile(path: string, flags: number = constants.O_RDONLY): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, flags);
  } catch {
    return undefined;
  }
  try {
    const n = readSync(fd, BUF, 0, BUF.length, null);
    if (n < BUF.length) return BUF.toString('utf8', 0, n);
    const parts = [Buffer.from(BUF.subarray(0, n))];
    for (;;) {
      const m = readSync(fd, BUF, 0, BUF.length, null);
      if (m === 0) break;
      parts.push(Buffer.from(BUF.subarray(0, m)));
    }
    return Buffer.concat(parts).toString('utf8');
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

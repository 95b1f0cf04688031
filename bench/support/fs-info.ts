/**
 * What filesystem a benchmark's files land on, for its table. Runs make and
 * remove a few files each, and on ext4 without a journal every new inode is
 * looked for past the ones freed in the last minute or more (the kernel's
 * recently_deleted check): there, creating files gets slower the more were
 * removed shortly before, by this benchmark's earlier phases or by whatever
 * ran before it, and results drift with the machine's history.
 */
import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';

export interface FsInfo {
  mountPoint: string;
  type: string;
  source: string;
  /** ext4 only: whether it has a journal (a jbd2 entry for its device) */
  journal?: boolean;
}

/** the mount holding `dir`, from /proc/self/mountinfo (the longest mount point that is a prefix) */
export function fsInfo(dir: string): FsInfo | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined;
  }
  const path = resolve(dir);
  let best: FsInfo | undefined;
  for (const line of text.split('\n')) {
    // id parent major:minor root mount-point options [optional...] - type source super-options
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const mountPoint = left.split(' ')[4]?.replace(/\\040/g, ' ');
    const [type, source] = right.split(' ');
    if (!mountPoint || !type) continue;
    const inside = path === mountPoint || path.startsWith(mountPoint.endsWith('/') ? mountPoint : `${mountPoint}/`);
    if (inside && (!best || mountPoint.length >= best.mountPoint.length)) best = { mountPoint, type, source: source ?? '' };
  }
  if (best?.type === 'ext4') {
    const dev = best.source.replace(/^\/dev\//, '');
    // the journal's kernel thread is named after the device and the journal's inode (8)
    best.journal = existsSync(`/proc/fs/jbd2/${dev}-8`);
  }
  return best;
}

/** one line for a table's footer: where the files go, and a warning where results depend on history */
export function describeFs(dir: string): string {
  const f = fsInfo(dir);
  if (!f) return `files in ${dir} (filesystem unknown)`;
  const what = f.type === 'ext4' ? `ext4 ${f.journal ? 'with a journal' : 'WITHOUT a journal'}` : f.type;
  const warn =
    f.type === 'ext4' && !f.journal
      ? ': every new inode there is looked for past those freed in the last minute, so runs slow down after mass deletions (point TMPDIR at a journaled filesystem for figures that do not depend on what ran before)'
      : '';
  return `files in ${dir}: ${f.mountPoint} (${f.source}), ${what}${warn}`;
}

/**
 * Who an exec task runs as: a user name or numeric uid resolved against
 * /etc/passwd and /etc/group, the way the task's process will see it. Pure
 * parsing apart from reading those two files, so tests can hand in their own.
 */
import { readFileSync, statSync } from 'node:fs';

export interface TaskUser {
  /** as asked for: a name, or a uid as text */
  name: string;
  uid: number;
  gid: number;
  /** supplementary groups: the primary one only, the user's other groups are dropped on purpose */
  groups: number[];
  home: string;
}

export interface UserDb {
  passwd: string;
  group: string;
}

const DB_FILES = ['/etc/passwd', '/etc/group'] as const;
let cached: { stamp: string; db: UserDb } | undefined;

/**
 * The two files as they are now. Every task start resolves its user, so the
 * text is kept while neither file changed (same inode, size and mtime: tools
 * like useradd write a new file and rename it over the old one).
 */
function readDb(): UserDb {
  const stamp = DB_FILES.map((p) => {
    try {
      const st = statSync(p);
      return `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      return '-';
    }
  }).join(' ');
  if (cached?.stamp === stamp) return cached.db;
  const read = (p: string): string => {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return '';
    }
  };
  const db = { passwd: read(DB_FILES[0]), group: read(DB_FILES[1]) };
  cached = { stamp, db };
  return db;
}

/** `name` or `uid` (`uid:gid` too); throws with what is wrong and how to fix it */
export function resolveTaskUser(spec: string, db: UserDb = readDb()): TaskUser {
  const text = spec.trim();
  if (text === '') throw new Error('the task user is empty: name a user (e.g. nobody) or a uid');
  const [userPart, groupPart] = text.split(':', 2);
  const lines = db.passwd
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'));
  let uid: number;
  let gid: number | undefined;
  let home = '/';
  if (/^\d+$/.test(userPart)) {
    uid = Number(userPart);
    const entry = lines.find((f) => f[2] === userPart);
    if (entry) {
      gid = Number(entry[3]);
      home = entry[5] || '/';
    }
  } else {
    const entry = lines.find((f) => f[0] === userPart);
    if (!entry) throw new Error(`user "${userPart}" does not exist on this node (not in /etc/passwd): create it, or name a uid`);
    uid = Number(entry[2]);
    gid = Number(entry[3]);
    home = entry[5] || '/';
  }
  if (groupPart !== undefined) {
    if (/^\d+$/.test(groupPart)) gid = Number(groupPart);
    else {
      const g = db.group
        .split('\n')
        .map((l) => l.split(':'))
        .find((f) => f[0] === groupPart);
      if (!g) throw new Error(`group "${groupPart}" does not exist on this node (not in /etc/group)`);
      gid = Number(g[2]);
    }
  }
  // a bare uid without a passwd entry runs in the group of the same number, as docker does
  gid ??= uid;
  if (!Number.isSafeInteger(uid) || uid > 0xfffffffe || !Number.isSafeInteger(gid) || gid > 0xfffffffe) {
    throw new Error(`task user "${text}" has an invalid uid or gid`);
  }
  return { name: text, uid, gid, groups: [gid], home };
}

/** root in the sense that matters: uid 0 has every capability */
export function isRoot(user: TaskUser): boolean {
  return user.uid === 0;
}

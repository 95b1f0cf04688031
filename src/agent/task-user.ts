/**
 * Who an exec task runs as: a user name or numeric uid resolved against
 * /etc/passwd and /etc/group, the way the task's process will see it. Pure
 * parsing apart from reading those two files, so tests can hand in their own.
 */
import { readFileSync } from 'node:fs';

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

function readDb(): UserDb {
  const read = (p: string): string => {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return '';
    }
  };
  return { passwd: read('/etc/passwd'), group: read('/etc/group') };
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

import { describe, expect, it } from 'vitest';
import { resolveTaskUser } from './task-user.js';

const db = {
  passwd: 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nsvc:x:1001:1002::/home/svc:/bin/sh\n',
  group: 'root:x:0:\nnogroup:x:65534:\nsvc:x:1002:\nstaff:x:50:svc\n',
};

describe('resolveTaskUser', () => {
  it('resolves a name to its uid, primary gid and only that group', () => {
    expect(resolveTaskUser('svc', db)).toEqual({ name: 'svc', uid: 1001, gid: 1002, groups: [1002], home: '/home/svc' });
    expect(resolveTaskUser('nobody', db).uid).toBe(65534);
  });
  it('takes a uid with or without a passwd entry, and uid:group', () => {
    expect(resolveTaskUser('1001', db).gid).toBe(1002);
    expect(resolveTaskUser('4242', db)).toMatchObject({ uid: 4242, gid: 4242, groups: [4242] });
    expect(resolveTaskUser('svc:staff', db)).toMatchObject({ uid: 1001, gid: 50, groups: [50] });
    expect(resolveTaskUser('0', db).uid).toBe(0);
  });
  it('names what is missing', () => {
    expect(() => resolveTaskUser('ghost', db)).toThrow(/user "ghost" does not exist on this node/);
    expect(() => resolveTaskUser('svc:ghosts', db)).toThrow(/group "ghosts" does not exist/);
    expect(() => resolveTaskUser(' ', db)).toThrow(/empty/);
  });
});

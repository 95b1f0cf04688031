import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentClient } from '../client/agent-client.js';
import { BatonClient } from '../client/client.js';
import { newSecret } from '../store/ids.js';
import { nodeRequest, startTestServer, until, type TestServer } from './server.fixture.js';
import { storeDialects, storeOption } from '../../test/support/stores.js';

const VALUE = 'hunter2-' + 'x'.repeat(8) + '-value';

const job = (name: string, ns = 'team-a'): string => `name: ${name}
type: service
namespace: ${ns}
tasks:
  - name: web
    driver: exec
    command: /bin/sleep
    args: ["60"]
    secrets:
      - name: db
        env: { DB_URL: url }
      - name: absent
`;

describe.each(storeDialects())('secrets API ($dialect)', ({ fresh }) => {
  let t: TestServer;
  beforeEach(async () => {
    t = await startTestServer({ heartbeatTtlMs: 60_000, logCapBytes: 1 << 20, ...(await storeOption(fresh)) });
  });
  afterEach(() => t.close());

  async function tokenClient(role: 'read' | 'submit' | 'admin', namespace: string): Promise<BatonClient> {
    const secret = newSecret('tok');
    await t.server.store.createToken(secret, `${role}-${namespace}`, role, namespace);
    return new BatonClient({ baseUrl: t.server.url, token: secret });
  }

  it('puts new versions, lists names and keys but never values, and deletes', async () => {
    const submit = await tokenClient('submit', 'team-a');
    const v1 = await submit.putSecret('team-a', 'db', { url: VALUE, user: 'app' });
    expect(v1).toMatchObject({ namespace: 'team-a', name: 'db', version: 1, keys: ['url', 'user'] });
    const v2 = await submit.putSecret('team-a', 'db', { url: VALUE + '2' });
    expect(v2.version).toBe(2);
    // the same data again is no new version: nothing restarts
    expect(await submit.putSecret('team-a', 'db', { url: VALUE + '2' })).toMatchObject({ version: 2, unchanged: true });
    expect(v2.createdAt).toBe(v1.createdAt);
    const read = await tokenClient('read', 'team-a');
    const list = await read.listSecrets('team-a');
    expect(list.map((s) => [s.name, s.version, s.keys])).toEqual([['db', 2, ['url']]]);
    expect(JSON.stringify(list)).not.toContain(VALUE);
    const events = await t.client.recentEvents({ topics: ['secret'] });
    expect(events.events.map((e) => `${e.type} ${e.key} v${(e.payload as { version: number }).version}`)).toEqual([
      'SecretPut team-a/db v1',
      'SecretPut team-a/db v2',
    ]);
    expect(JSON.stringify(events)).not.toContain(VALUE);
    await submit.deleteSecret('team-a', 'db');
    expect(await read.listSecrets('team-a')).toEqual([]);
    await expect(submit.deleteSecret('team-a', 'db')).rejects.toThrow(/secret team-a\/db not found/);
  });

  it('needs submit in the namespace to put or delete, read to list', async () => {
    const read = await tokenClient('read', 'team-a');
    await expect(read.putSecret('team-a', 'db', { a: 'b' })).rejects.toThrow(/needs submit or higher/);
    const other = await tokenClient('admin', 'team-b');
    await expect(other.putSecret('team-a', 'db', { a: 'b' })).rejects.toThrow(/may only use namespace "team-b"/);
    await expect(other.listSecrets('team-a')).rejects.toThrow(/may only use namespace "team-b"/);
    await t.client.putSecret('team-a', 'db', { a: 'b' });
    await t.client.putSecret('team-b', 'db', { a: 'b' });
    // asking for every namespace with a namespaced token lists its own only
    expect((await other.listSecrets('*')).map((s) => s.namespace)).toEqual(['team-b']);
    expect((await t.client.listSecrets('*')).map((s) => s.namespace)).toEqual(['team-a', 'team-b']);
  });

  it('refuses bad names, keys and bodies with what to fix', async () => {
    await expect(t.client.putSecret('team-a', 'Bad Name', { a: 'b' })).rejects.toThrow(/a secret name is lowercase letters/);
    await expect(t.client.putSecret('team-a', 'db', { '../x': 'b' })).rejects.toThrow(/a secret key is letters/);
    await expect(t.client.putSecret('team-a', 'db', {})).rejects.toThrow(/data needs at least one key/);
  });

  it('gives values only to the agent of a live alloc that names them, and wakes it on a change', async () => {
    await t.client.putSecret('team-a', 'db', { url: VALUE });
    const agent = new AgentClient(t.server.url, t.server.joinToken);
    const reg = await agent.register(nodeRequest('n1'));
    agent.useToken(reg.secret);
    const other = new AgentClient(t.server.url, t.server.joinToken);
    other.useToken((await other.register(nodeRequest('n2', { capacity: { cpu: 1, memory: 1, disk: 0 } }))).secret);
    await t.client.submitJob(job('app'), 'app.yaml');
    const first = await until(async () => {
      const r = await agent.allocs(0, 0);
      return r.allocs.length > 0 && r;
    }, 'the alloc to be placed');
    const a = first.allocs[0];
    expect(a.secretsStamp).toBe('absent@0,db@1');
    // the job spec carries names only
    expect(JSON.stringify(first)).not.toContain(VALUE);
    const got = await agent.allocSecrets(a.alloc.id);
    expect(got).toEqual({ secrets: [{ name: 'db', version: 1, data: { url: VALUE } }], missing: ['absent'] });
    await expect(other.allocSecrets(a.alloc.id)).rejects.toThrow(/not a live alloc of this node/);
    await expect(new BatonClient({ baseUrl: t.server.url, token: t.server.adminToken }).listSecrets('team-a')).resolves.toHaveLength(1);

    // a blocking watch wakes for a put and sees the new stamp
    // (other writes for the node, such as its eval completing, may wake it first: watch again from there)
    const current = await agent.allocs(0, 0);
    const watchUntilNewStamp = async (index: number): Promise<typeof current> => {
      const r = await agent.allocs(index, 30_000);
      return r.allocs[0]?.secretsStamp === 'absent@0,db@1' ? watchUntilNewStamp(r.index) : r;
    };
    const watching = watchUntilNewStamp(current.index);
    await t.client.putSecret('team-a', 'db', { url: VALUE + 'v2' });
    const woke = await watching;
    expect(woke.allocs[0].secretsStamp).toBe('absent@0,db@2');

    // the value is not in the database file's bytes
    for (const f of ['baton.db', 'baton.db-wal']) {
      const bytes = await readFile(join(t.dir, f)).catch(() => Buffer.alloc(0));
      expect(bytes.includes(Buffer.from('hunter2'))).toBe(false);
    }
  });
});

/**
 * Secrets end to end with real processes: an exec task and a docker task read
 * a secret from files on a tmpfs (and an env var) and print a value derived
 * from it; the value itself is in no API answer, event, shipped log, `-o json`
 * output, nor in the bytes of the server's SQLite files. A new version
 * restarts the exec task (change_mode restart) and signals the docker task
 * (change_mode signal), and both see it.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alloc } from '../../src/api/types.js';
import { runCli, TestCluster, waitFor } from '../support/cluster.js';
import { dockerSuiteEnabled, readAllLogs, removeContainersOfNodes } from '../support/e2e.js';
import { ensureTestImage } from '../support/image.js';

const docker = await dockerSuiteEnabled();
// derived values the tasks print: the value upper-cased (the test image has tr, not sha256sum)
const secretValue = (): string => `s3cret-${randomBytes(12).toString('hex')}`;
const derived = (v: string): string => v.toUpperCase();

describe('secrets end to end', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  let nodeId: string;
  let serverDir: string;
  const values: string[] = [];

  beforeAll(async () => {
    cluster = await TestCluster.start();
    serverDir = cluster.dataDir;
    const agent = await cluster.addAgent({ name: 'sec-1', cpu: '2', memory: '2Gi', drivers: docker ? 'exec,docker' : 'exec' });
    nodeId = await agent.ready();
    env = cluster.cliEnv();
  });
  afterAll(async () => {
    await cluster?.stop();
    if (docker) await removeContainersOfNodes([nodeId]);
  });

  async function put(value: string): Promise<string> {
    values.push(value);
    const file = join(await cluster.tempDir('secret'), 'url');
    await writeFile(file, value);
    const r = await runCli(['secret', 'put', 'team-a/db', '--from-file', `url=${file}`, 'user=app', '-o', 'json'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return r.stdout;
  }

  async function logsOf(jobId: string, task = 'main'): Promise<{ alloc: Alloc; out: string }> {
    const allocs = await cluster.client.listAllocs({ namespace: 'team-a', jobId });
    const alloc = allocs.find((a) => a.clientStatus === 'running')!;
    return { alloc, out: alloc ? await readAllLogs(cluster.client, alloc, task, 'stdout') : '' };
  }

  it('gives the tasks the secret as files and env, and nowhere else', async () => {
    const v1 = secretValue();
    const putOut = await put(v1);
    expect(JSON.parse(putOut)).toMatchObject({ namespace: 'team-a', name: 'db', version: 1, keys: ['url', 'user'] });

    const execJob = `
name: sec-exec
type: service
namespace: team-a
tasks:
  - name: main
    driver: exec
    command: /bin/sh
    args: ["-c", "echo \\"file=$(tr a-z A-Z < $BATON_SECRETS_DIR/db/url) env=$(printf %s \\"$DB_URL\\" | tr a-z A-Z) fs=$(stat -f -c %T $BATON_SECRETS_DIR) mode=$(stat -c %a $BATON_SECRETS_DIR/db/url) uid=$(id -u)\\"; exec sleep 3600"]
    resources: { cpu: 100m, memory: 32Mi }
    secrets:
      - name: db
        env: { DB_URL: url }
`;
    await cluster.client.submitJob(execJob, 'sec-exec.yaml');
    const exec = await waitFor(
      'the exec task to print its secret',
      async () => {
        const l = await logsOf('sec-exec');
        return l.out.includes('file=') && l;
      },
      60_000,
    );
    expect(exec.out).toContain(`file=${derived(v1)} env=${derived(v1)} fs=tmpfs mode=400`);

    if (docker) {
      const image = await ensureTestImage();
      const dockerJob = `
name: sec-docker
type: service
namespace: team-a
tasks:
  - name: main
    driver: docker
    image: ${image}
    command: /bin/sh
    args: ["-c", "show() { echo \\"dir=$(tr a-z A-Z < /secrets/db/url) run=$(tr a-z A-Z < /run/secrets/db)\\"; }; trap show HUP; show; while true; do sleep 1; done"]
    resources: { cpu: 100m, memory: 32Mi }
    secrets:
      - name: db
        file: /run/secrets/db
        key: url
        change_mode: signal
`;
      await cluster.client.submitJob(dockerJob, 'sec-docker.yaml');
      const d = await waitFor(
        'the docker task to print its secret',
        async () => {
          const l = await logsOf('sec-docker');
          return l.out.includes('dir=') && l;
        },
        90_000,
      );
      expect(d.out).toContain(`dir=${derived(v1)} run=${derived(v1)}`);
    }
    await expectNowhere(v1);
  });

  it('restarts (or signals) the tasks on a new version, and they see it', async () => {
    const v2 = secretValue();
    await put(v2);
    const exec = await waitFor(
      'the exec task to restart with the new value',
      async () => {
        const l = await logsOf('sec-exec');
        return l.out.includes(`file=${derived(v2)}`) && l;
      },
      60_000,
    );
    expect(exec.alloc.taskStates.main.restarts).toBeGreaterThanOrEqual(1);
    expect(exec.alloc.taskStates.main.events.map((e) => e.message).join('\n')).toContain('secret db changed (change_mode restart)');
    if (docker) {
      const d = await waitFor(
        'the docker task to be signalled and read the new value',
        async () => {
          const l = await logsOf('sec-docker');
          return l.out.includes(`dir=${derived(v2)}`) && l;
        },
        60_000,
      );
      expect(d.alloc.taskStates.main.restarts).toBe(0);
      expect(d.alloc.taskStates.main.events.map((e) => e.type)).toContain('Signaled');
    }
    for (const v of values) await expectNowhere(v);
  });

  it("unmounts a task's secrets when it ends", async () => {
    const { alloc } = await logsOf('sec-exec');
    const mounted = async (): Promise<boolean> => (await readFile('/proc/mounts', 'utf8')).includes(`/${alloc.id}/main/secrets `);
    expect(await mounted()).toBe(true);
    await cluster.client.stopJob('sec-exec', 'team-a');
    await waitFor('the secrets tmpfs to be unmounted', async () => !(await mounted()), 30_000);
  });

  it("tells in the task's events which secret is missing and how to put it", async () => {
    await cluster.client.submitJob(
      `
name: sec-missing
type: batch
namespace: team-a
tasks:
  - name: main
    driver: exec
    command: /bin/true
    secrets: [{ name: nope }]
`,
      'sec-missing.yaml',
    );
    const events = await waitFor(
      'the start to fail on the missing secret',
      async () => {
        const allocs = await cluster.client.listAllocs({ namespace: 'team-a', jobId: 'sec-missing' });
        const msgs = allocs.flatMap((a) => a.taskStates.main?.events.map((e) => e.message) ?? []);
        return msgs.some((m) => m.includes('secret team-a/nope not found')) && msgs;
      },
      60_000,
    );
    expect(events.join('\n')).toContain('baton secret put team-a/nope');
    await cluster.client.stopJob('sec-missing', 'team-a');
  });

  it.skipIf(!docker)('deploys compose secrets: a file secret read at /run/secrets/<name>', async () => {
    const image = await ensureTestImage();
    const dir = await cluster.tempDir('compose');
    const value = secretValue();
    values.push(value);
    await writeFile(join(dir, 'db_password.txt'), value);
    await writeFile(
      join(dir, 'compose.yaml'),
      `services:
  app:
    image: ${image}
    command:
      - /bin/sh
      - -c
      - 'echo "pw=$$(tr a-z A-Z < /run/secrets/db_password)"; while true; do sleep 1; done'
    secrets: [db_password]
secrets:
  db_password:
    file: ./db_password.txt
`,
    );
    const r = await runCli(['deploy', '--name', 'sec', '-n', 'team-a', '-o', 'json'], env, dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(value);
    const l = await waitFor(
      'the compose service to print its secret',
      async () => {
        const x = await logsOf('sec-app', 'app');
        return x.out.includes('pw=') && x;
      },
      45_000,
    );
    expect(l.out).toContain(`pw=${derived(value)}`);
    expect((await cluster.client.listSecrets('team-a')).map((x) => x.name)).toContain('sec-db_password');
    // deploying again with the same file is no new version: the service keeps running, not restarted
    const again = await runCli(['deploy', '--name', 'sec', '-n', 'team-a'], env, dir);
    expect(again.stdout).toContain('secret team-a/sec-db_password unchanged');
    await expectNowhere(value);
  });

  /** every answer a user can list, the events, the logs, the CLI's JSON and the database files */
  async function expectNowhere(value: string): Promise<void> {
    const c = cluster.client;
    const answers: unknown[] = [
      await c.listJobs('*'),
      await c.getJob('sec-exec', 'team-a'),
      await c.listAllocs({}),
      await c.listNodes(),
      await c.getNode(nodeId),
      await c.listSecrets('*'),
      await c.recentEvents(),
      await c.listEvals({}),
    ];
    if (docker) answers.push(await c.getJob('sec-docker', 'team-a'));
    for (const a of await c.listAllocs({})) {
      answers.push(await c.getAlloc(a.id));
      for (const task of Object.keys(a.taskStates)) for (const stream of ['stdout', 'stderr'] as const) answers.push(await readAllLogs(c, a, task, stream));
    }
    for (const a of answers) expect(JSON.stringify(a)).not.toContain(value);
    for (const args of [
      ['secret', 'ls', '-n', '*'],
      ['job', 'ls', '-n', '*'],
      ['job', 'status', 'sec-exec', '-n', 'team-a'],
      ['alloc', 'ls', '-n', '*'],
      ['events'],
    ]) {
      const r = await runCli([...args, '-o', 'json'], env);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.stdout).not.toContain(value);
    }
    for (const f of (await readdir(serverDir)).filter((n) => n.startsWith('baton.db'))) {
      const bytes = await readFile(join(serverDir, f));
      expect(bytes.includes(Buffer.from(value)), `${f} holds the value`).toBe(false);
    }
  }
});

/**
 * Tasks are unprivileged by default, with real processes: an exec task
 * submitted with a namespace's submit token runs as a non-root uid, cannot
 * write the agent's data dir nor read its node secret; a job asking for root
 * waits on default agents with the reason and runs on one started with
 * --allow-root. A docker task's published port listens on the agent's
 * --address only.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatonClient } from '../../src/client/client.js';
import { runCli, TestCluster, waitFor, type TestAgent } from '../support/cluster.js';
import { ensureTestImage } from '../support/image.js';
import { containersOfNode, dockerClient, dockerSuiteEnabled, readAllLogs, removeContainersOfNodes, waitForJob } from '../support/e2e.js';

const asRoot = process.getuid?.() === 0;
const docker = await dockerSuiteEnabled();

describe.skipIf(!asRoot)('task isolation', () => {
  let cluster: TestCluster;
  let agent: TestAgent;
  let submit: BatonClient;

  beforeAll(async () => {
    cluster = await TestCluster.start();
    agent = await cluster.addAgent({ name: 'plain', cpu: '2', memory: '1Gi', drivers: 'exec', nodeClass: 'plain' });
    // a submit token of one namespace, as an ordinary user gets it
    const made = await runCli(['token', 'create', '--role', 'submit', '--namespace', 'default', '-o', 'json'], cluster.cliEnv());
    expect(made.code, made.stderr).toBe(0);
    const secret = (JSON.parse(made.stdout) as { secret: string }).secret;
    submit = new BatonClient({ baseUrl: cluster.url, token: secret, ca: cluster.caPem || undefined });
  });
  afterAll(async () => cluster?.stop());

  it("runs an exec task as nobody, unable to write the agent's data dir or read its node secret or the admin token", async () => {
    const node = join(agent.dataDir, 'node.json');
    const script = [
      'id -u',
      `touch ${agent.dataDir}/planted 2>/dev/null && echo wrote-data-dir || echo no-write`,
      `cat ${node} 2>/dev/null && echo read-secret || echo no-read`,
      `ls ${agent.dataDir}/allocs >/dev/null 2>&1 && echo listed || echo no-list`,
      // the server's admin token, on the same machine
      `cat ${cluster.dataDir}/server.json 2>/dev/null && echo read-admin || echo no-admin`,
      'echo mine > "$BATON_TASK_DIR/out" && echo own-dir',
    ].join('; ');
    await submit.submitJob(
      `name: whoami\ntype: batch\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sh\n    args: ["-c", ${JSON.stringify(script)}]\n`,
      'whoami.yaml',
    );
    const d = await waitForJob(cluster.client, 'whoami', (x) => x.summary.status === 'complete' || x.summary.status === 'failed', 'the job to end');
    expect(d.summary.status).toBe('complete');
    const out = (await readAllLogs(cluster.client, d.allocs[0], 'main', 'stdout')).trim().split('\n');
    expect(Number(out[0])).toBeGreaterThan(0);
    expect(out.slice(1)).toEqual(['no-write', 'no-read', 'no-list', 'no-admin', 'own-dir']);
    expect((await stat(node)).mode & 0o777).toBe(0o600);
    await expect(stat(join(agent.dataDir, 'planted'))).rejects.toThrow();
    // the node secret is still what the agent wrote
    expect(JSON.parse(await readFile(node, 'utf8'))).toHaveProperty('nodeId');
  });

  it('keeps a user: root job waiting on default agents, saying why, and runs it where root is allowed', async () => {
    await submit.submitJob(
      'name: rooty\ntype: batch\ntasks:\n  - name: main\n    driver: exec\n    user: root\n    command: id\n    args: ["-u"]\n',
      'rooty.yaml',
    );
    const summary = await waitFor('the root job to be reported blocked', async () => {
      const d = await cluster.client.getJob('rooty', 'default');
      return d.summary.blocked?.length ? d.summary : undefined;
    });
    expect(summary.status).toBe('pending');
    expect(summary.blocked!.map((b) => b.message)).toContain('needs to run as root (user: root): 1 node does not allow it (start the agent with --allow-root)');

    await cluster.addAgent({ name: 'trusted', cpu: '2', memory: '1Gi', drivers: 'exec', extra: ['--allow-root'] });
    const d = await waitForJob(cluster.client, 'rooty', (x) => x.summary.status === 'complete' || x.summary.status === 'failed', 'the root job to run');
    expect(d.summary.status).toBe('complete');
    expect((await readAllLogs(cluster.client, d.allocs[0], 'main', 'stdout')).trim()).toBe('0');
    const nodes = await cluster.client.listNodes();
    expect(nodes.find((n) => n.id === d.allocs[0].nodeId)?.name).toBe('trusted');
  });
});

describe.skipIf(!docker)("docker ports on the agent's --address", () => {
  let cluster: TestCluster;
  let nodeId: string;

  beforeAll(async () => {
    await ensureTestImage();
    cluster = await TestCluster.start();
    const a = await cluster.addAgent({ name: 'loopback', cpu: '2', memory: '1Gi', drivers: 'docker', extra: ['--address', '127.0.0.1'] });
    nodeId = await a.ready();
  });
  afterAll(async () => {
    await cluster?.stop();
    if (nodeId) await removeContainersOfNodes([nodeId]);
  });

  it('publishes a task port on 127.0.0.1 only, not on every interface', async () => {
    const image = await ensureTestImage();
    await cluster.client.submitJob(
      `name: web\ntype: service\ntasks:\n  - name: main\n    driver: docker\n    image: ${image}\n    command: sleep\n    args: ["60"]\n    ports: [{ name: http, to: 80 }]\n`,
      'web.yaml',
    );
    const d = await waitForJob(cluster.client, 'web', (x) => x.allocs.some((a) => a.clientStatus === 'running'), 'the service to run');
    expect(d.allocs.length).toBe(1);
    const [c] = await waitFor('the container', async () => {
      const cs = (await containersOfNode(nodeId)).filter((x) => x.State === 'running');
      return cs.length > 0 ? cs : undefined;
    });
    const info = await dockerClient().getContainer(c.Id).inspect();
    const bindings = Object.values(info.HostConfig.PortBindings ?? {}).flat() as Array<{ HostIp: string }>;
    expect(bindings.length).toBeGreaterThan(0);
    expect(bindings.map((b) => b.HostIp)).toEqual(bindings.map(() => '127.0.0.1'));
  });

  it('refuses a privileged job and a host bind on a default agent, with the reason, and runs them where allowed', async () => {
    const image = await ensureTestImage();
    const shared = await cluster.tempDir('host-data');
    await writeFile(join(shared, 'input.txt'), 'from the host\n');
    await cluster.client.submitJob(
      `name: priv\ntype: batch\ntasks:\n  - name: main\n    driver: docker\n    image: ${image}\n    privileged: true\n    command: sh\n    args: ["-c", "grep CapEff /proc/self/status"]\n`,
      'priv.yaml',
    );
    await cluster.client.submitJob(
      `name: bind\ntype: batch\ntasks:\n  - name: main\n    driver: docker\n    image: ${image}\n    command: cat\n    args: ["/in/input.txt"]\n    mounts: [{ source: ${JSON.stringify(shared)}, destination: /in, read_only: true }]\n`,
      'bind.yaml',
    );
    const blocked = async (job: string) =>
      waitFor(`${job} to be reported blocked`, async () => {
        const d = await cluster.client.getJob(job, 'default');
        return d.summary.blocked?.length ? d.summary : undefined;
      });
    expect((await blocked('priv')).blocked!.map((b) => b.message)).toContain(
      'needs privileged containers: 1 node does not allow it (start the agent with --allow privileged)',
    );
    expect((await blocked('bind')).blocked!.map((b) => b.message)).toContain(
      'needs to bind host paths (mounts): 1 node does not allow it (start the agent with --allow-host-path <prefix>)',
    );
    expect((await cluster.client.getJob('priv', 'default')).allocs.filter((a) => a.clientStatus !== 'pending')).toEqual([]);

    const open = await cluster.addAgent({
      name: 'open',
      cpu: '2',
      memory: '1Gi',
      drivers: 'docker',
      extra: ['--allow', 'privileged', '--allow-host-path', shared],
    });
    const openId = await open.ready();
    try {
      const p = await waitForJob(cluster.client, 'priv', (x) => x.summary.status === 'complete' || x.summary.status === 'failed', 'the privileged job to run');
      expect(p.allocs[0].nodeId).toBe(openId);
      const events = p.allocs[0].taskStates.main.events.map((e) => e.message).join('\n');
      expect(events).not.toMatch(/does not allow/);
      if (p.summary.status === 'complete') {
        // every capability: what privileged means
        expect(await readAllLogs(cluster.client, p.allocs[0], 'main', 'stdout')).toMatch(/CapEff:\s+0000[0-9a-f]{2}ffffffffff/);
      } else {
        // an Engine that itself runs without every capability (docker in a container) cannot start a
        // privileged container: the agent passed the ask on, Docker refused it
        expect(events, JSON.stringify(p.allocs[0].taskStates)).toMatch(/could not start container .*caps/);
      }
      const b = await waitForJob(cluster.client, 'bind', (x) => x.summary.status === 'complete' || x.summary.status === 'failed', 'the bind job to run');
      expect(b.summary.status, JSON.stringify(b.allocs[0].taskStates)).toBe('complete');
      expect(await readAllLogs(cluster.client, b.allocs[0], 'main', 'stdout')).toBe('from the host\n');
    } finally {
      await removeContainersOfNodes([openId]);
    }
  });
});

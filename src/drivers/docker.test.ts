import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Docker from 'dockerode';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerAvailable, ensureTestImage } from '../../test/support/image.js';
import { DockerEngine } from './docker-engine.js';
import { asksHostConfig, containerFinishedAt, cpuHostConfig, DockerDriver, networkHostConfig, refusal } from './docker.js';
import type { LogRecord, TaskConfig } from './driver.js';

const available = await dockerAvailable();
if (!available && process.env.BATON_REQUIRE_DOCKER === '1') {
  throw new Error('BATON_REQUIRE_DOCKER=1 but no Docker Engine answers on /var/run/docker.sock');
}

const nodeId = `test-node-${randomUUID().slice(0, 8)}`;
const MiB = 1024 * 1024;

async function collect(logs: AsyncIterable<LogRecord>): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  for await (const r of logs) out.push(r);
  return out;
}
const text = (recs: LogRecord[], stream?: 'stdout' | 'stderr') =>
  Buffer.concat(recs.filter((r) => !stream || r.stream === stream).map((r) => r.data)).toString();

describe.skipIf(!available)('DockerDriver', () => {
  // the driver speaks through its own Engine client; the test looks through dockerode, an independent one
  const docker = new Docker();
  const driver = new DockerDriver();
  let image = '';

  function config(over: Partial<TaskConfig> = {}): TaskConfig {
    return {
      nodeId,
      allocId: randomUUID(),
      allocName: 'job[0]',
      allocIndex: 0,
      namespace: 'default',
      jobId: 'job',
      taskName: 'main',
      image,
      args: [],
      env: {},
      resources: { cpu: 200, memory: 64 * MiB, disk: 0 },
      killSignal: 'SIGTERM',
      killTimeoutMs: 1000,
      taskDir: tmpdir(),
      ...over,
    };
  }

  beforeAll(async () => {
    image = await ensureTestImage();
  }, 60_000);

  afterAll(async () => {
    const left = await docker.listContainers({ all: true, filters: { label: [`baton.node_id=${nodeId}`] } });
    await Promise.all(
      left.map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => {}),
      ),
    );
  });

  it('fingerprints the engine version', async () => {
    const fp = await driver.fingerprint();
    expect(fp.healthy).toBe(true);
    expect(fp.attributes['driver.docker.version']).toMatch(/^\d+\./);
    const broken = await new DockerDriver({ docker: new DockerEngine({ socketPath: '/nonexistent.sock' }) }).fingerprint();
    expect(broken.healthy).toBe(false);
    expect(broken.detail).toMatch(/nonexistent/);
  });

  it('runs echo, reports exit 0, logs, labels and limits', async () => {
    const c = config({ command: 'echo', args: ['hi'], env: { GREETING: 'hello there' } });
    const t = await driver.start(c);
    const r = await t.wait();
    expect(r).toMatchObject({ exitCode: 0, oomKilled: false });
    expect(text(await collect(t.logs()), 'stdout')).toBe('hi\n');
    const info = await docker.getContainer(t.handle.id).inspect();
    expect(info.Name).toBe(`/baton-${c.allocId}-main`);
    expect(info.Config.Labels).toMatchObject({ 'baton.alloc_id': c.allocId, 'baton.node_id': nodeId, 'baton.task': 'main', 'baton.job': 'job' });
    expect(info.Config.Env).toContain('GREETING=hello there');
    expect(info.HostConfig.Memory).toBe(64 * MiB);
    expect(info.HostConfig.MemorySwap).toBe(64 * MiB);
    // the 200m request is a weight, not a cap
    expect(info.HostConfig.CpuShares).toBe(204);
    expect(info.HostConfig.NanoCpus ?? 0).toBe(0);
    await t.destroy();
    await expect(docker.getContainer(t.handle.id).inspect()).rejects.toMatchObject({ statusCode: 404 });
    await t.destroy(); // a second destroy is harmless
  });

  it('caps the cpu only when the task sets a cpu limit', async () => {
    const t = await driver.start(config({ command: 'true', resources: { cpu: 500, cpuLimit: 1500, memory: 64 * MiB, disk: 0 } }));
    await t.wait();
    const info = await docker.getContainer(t.handle.id).inspect();
    expect(info.HostConfig.CpuShares).toBe(512);
    expect(info.HostConfig.NanoCpus).toBe(1_500_000_000);
    await t.destroy();
  });

  it('reports a non-zero exit code and stderr', async () => {
    const t = await driver.start(config({ command: '/bin/sh', args: ['-c', 'echo oops >&2; exit 3'] }));
    expect((await t.wait()).exitCode).toBe(3);
    const recs = await collect(t.logs());
    expect(text(recs, 'stderr')).toBe('oops\n');
    expect(text(recs, 'stdout')).toBe('');
  });

  it('a second start of the same alloc/task reuses the container', async () => {
    const c = config({ command: 'sleep', args: ['30'] });
    const a = await driver.start(c);
    const b = await new DockerDriver().start(c);
    expect(b.handle.id).toBe(a.handle.id);
    const same = await docker.listContainers({ all: true, filters: { label: [`baton.alloc_id=${c.allocId}`] } });
    expect(same).toHaveLength(1);
    await a.destroy();
  });

  it('recovers the run of an alloc/task an earlier agent started but did not record, running or ended, without starting one', async () => {
    const none = config({ command: 'sh', args: ['-c', 'exit 0'] });
    expect(await new DockerDriver().recover(none)).toBeUndefined();
    const c = config({ command: 'sh', args: ['-c', 'sleep 0.3; exit 4'] });
    const a = await driver.start(c);
    const running = await new DockerDriver().recover(c);
    expect(running?.handle.id).toBe(a.handle.id);
    expect((await running!.wait()).exitCode).toBe(4);
    // ended since: still its run, with its exit
    const ended = await new DockerDriver().recover(c);
    expect(ended?.handle.id).toBe(a.handle.id);
    expect((await ended!.wait()).exitCode).toBe(4);
    await a.destroy();
    expect(await new DockerDriver().recover(c)).toBeUndefined();
  });

  it('reports an OOM kill with the peak memory', async () => {
    const c = config({ command: 'dd', args: ['if=/dev/zero', 'of=/dev/null', 'bs=256M', 'count=1'], resources: { cpu: 500, memory: 32 * MiB, disk: 0 } });
    const r = await (await driver.start(c)).wait();
    expect(r.oomKilled).toBe(true);
    expect(r.exitCode).toBe(137);
    expect(r.signal).toBe('SIGKILL');
    expect(r.peakMemory).toBeGreaterThan(16 * MiB);
  });

  it('stops with the signal, then SIGKILL after the timeout', async () => {
    // sleep as pid 1 has no TERM handler, so the kernel ignores SIGTERM: only SIGKILL ends it
    const t = await driver.start(config({ command: 'sleep', args: ['60'] }));
    await t.stop(500, 'SIGTERM');
    const info = await docker.getContainer(t.handle.id).inspect();
    expect(info.State.Running).toBe(false);
    expect(await t.wait()).toMatchObject({ exitCode: 137, signal: 'SIGKILL' });
    await t.stop(500); // already exited: no error
  });

  it('a task that handles the signal ends with it', async () => {
    const t = await driver.start(config({ command: 'sh', args: ['-c', 'trap "echo bye; exit 143" TERM; echo ready; while true; do sleep 0.1; done'] }));
    for await (const r of t.logs()) if (r.data.toString().includes('ready')) break;
    await t.stop(10_000);
    expect((await t.wait()).exitCode).toBe(143);
    expect(text(await collect(t.logs()))).toBe('ready\nbye\n');
  });

  it('attaches from a new driver instance to a running container', async () => {
    const c = config({ command: 'sh', args: ['-c', 'sleep 1; echo late; exit 4'] });
    const t = await driver.start(c);
    const again = await new DockerDriver().attach(t.handle, c);
    expect(again).toBeDefined();
    expect((await again!.usage())?.memory).toBeGreaterThan(0);
    expect((await again!.wait()).exitCode).toBe(4);
    expect(text(await collect(again!.logs()))).toBe('late\n');
    await again!.destroy();
    expect(await new DockerDriver().attach(t.handle, c)).toBeUndefined();
  });

  it('a container that ended before a re-attach is timed by its FinishedAt, not by the attach', async () => {
    const c = config({ command: 'sh', args: ['-c', 'sleep 0.3; exit 3'] });
    const t = await driver.start(c);
    const r = await t.wait();
    expect(r.exitCode).toBe(3);
    // the agent was down meanwhile: a new one attaches 1.5 s after the exit
    await new Promise((res) => setTimeout(res, 1500));
    const attachedAt = Date.now();
    const late = await (await new DockerDriver().attach(t.handle, c))!.wait();
    expect(late.exitCode).toBe(3);
    expect(attachedAt - Date.parse(late.finishedAt!)).toBeGreaterThan(1000);
    expect(late.finishedAt).toBe(r.finishedAt);
    await t.destroy();
  });

  it('resumes logs from a cursor without repeats', async () => {
    const t = await driver.start(config({ command: 'sh', args: ['-c', 'for i in 1 2 3 4 5 6; do echo line$i; sleep 0.2; done'] }));
    const first: LogRecord[] = [];
    for await (const r of t.logs()) {
      first.push(r);
      if (first.length === 2) break;
    }
    expect(text(first)).toBe('line1\nline2\n');
    const rest = await collect(t.logs(first[1].cursor));
    expect(text(rest)).toBe('line3\nline4\nline5\nline6\n');
    // after exit, from every cursor: only what came after it
    const all = await collect(t.logs());
    expect(all).toHaveLength(6);
    expect(text(await collect(t.logs(all[3].cursor)))).toBe('line5\nline6\n');
    expect(await collect(t.logs(all[5].cursor))).toHaveLength(0);
  });

  it('lists the containers of a node', async () => {
    const c = config({ command: 'sleep', args: ['30'], taskName: 'web' });
    const t = await driver.start(c);
    const listed = await driver.list(nodeId);
    expect(listed).toContainEqual(
      expect.objectContaining({ allocId: c.allocId, taskName: 'web', running: true, handle: expect.objectContaining({ id: t.handle.id }) }),
    );
    expect(await driver.list(`other-${randomUUID()}`)).toEqual([]);
    await t.stop(0);
    expect((await driver.list(nodeId)).find((l) => l.allocId === c.allocId)?.running).toBe(false);
  });

  it('mounts the task dir read-write at /baton/task', async () => {
    const taskDir = mkdtempSync(join(tmpdir(), 'baton-docker-'));
    try {
      writeFileSync(join(taskDir, 'payload'), 'from the host\n');
      const c = config({ command: 'sh', args: ['-c', 'cat /baton/task/payload; echo from the task > /baton/task/out'], taskDir });
      const t = await driver.start(c);
      expect((await t.wait()).exitCode).toBe(0);
      expect(text(await collect(t.logs()), 'stdout')).toBe('from the host\n');
      expect(readFileSync(join(taskDir, 'out'), 'utf8')).toBe('from the task\n');
      await t.destroy();
    } finally {
      rmSync(taskDir, { recursive: true, force: true });
    }
  });

  it('gives the container IP, where a check reaches its ports, and none once it stopped', async () => {
    const c = config({ command: 'sh', args: ['-c', 'mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 8080 -h /www'] });
    const t = await driver.start(c);
    const ip = await t.address!();
    expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    let body = '';
    for (let i = 0; i < 100 && !body; i++) {
      body = await fetch(`http://${ip}:8080/`).then(
        (r) => r.text(),
        () => '',
      );
      if (!body) await new Promise((r) => setTimeout(r, 50));
    }
    expect(body).toBe('hello\n');
    await t.stop(0);
    expect(await t.address!()).toBeUndefined();
    await t.destroy();
  });

  it('runs a command inside the container with its env, and gives exit code and output', async () => {
    const t = await driver.start(config({ command: 'sleep', args: ['30'], env: { CHECK_X: 'in the container' } }));
    const r = await t.exec!('sh', ['-c', 'echo "x=$CHECK_X"; echo oops >&2; exit 3'], 5000);
    expect(r.exitCode).toBe(3);
    expect(r.output).toContain('x=in the container\n');
    expect(r.output).toContain('oops\n');
    expect(await t.exec!('true', [], 5000)).toEqual({ exitCode: 0, output: '' });
    await expect(t.exec!('sleep', ['5'], 200)).rejects.toThrow(/sleep timed out after 200 ms/);
    // the runtime cannot start it (126 on runc) and says why in the output
    const missing = await t.exec!('/no/such/check', [], 5000);
    expect(missing.exitCode).not.toBe(0);
    expect(missing.output).toMatch(/no such file/i);
    await t.stop(0);
    await expect(t.exec!('true', [], 5000)).rejects.toThrow(/could not run true in the container/);
    await t.destroy();
  });

  it('publishes a port on the host and mounts a host volume read-only', async () => {
    const site = mkdtempSync(join(tmpdir(), 'baton-docker-site-'));
    writeFileSync(join(site, 'index.html'), 'from the host\n');
    // a free host port: bind :0, read it, let go
    const hostPort = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const c = config({
      command: 'sh',
      args: ['-c', 'touch /www/x 2>/dev/null && echo writable || echo read-only; exec httpd -f -p 8080 -h /www'],
      ports: [{ name: 'http', host: hostPort, to: 8080 }],
      volumes: [{ name: 'site', hostPath: site, destination: '/www', readOnly: true }],
    });
    const t = await driver.start(c);
    try {
      const info = await docker.getContainer(t.handle.id).inspect();
      expect(info.HostConfig.PortBindings).toEqual({ '8080/tcp': [{ HostIp: '0.0.0.0', HostPort: String(hostPort) }] });
      expect(info.HostConfig.Binds).toContain(`${site}:/www:ro`);
      let body = '';
      for (let i = 0; i < 100 && !body; i++) {
        body = await fetch(`http://127.0.0.1:${hostPort}/index.html`).then(
          (r) => r.text(),
          () => '',
        );
        if (!body) await new Promise((r) => setTimeout(r, 50));
      }
      expect(body).toBe('from the host\n');
      const recs: LogRecord[] = [];
      for await (const r of t.logs()) {
        recs.push(r);
        break;
      }
      expect(text(recs, 'stdout')).toBe('read-only\n');
    } finally {
      await t.stop(0);
      await t.destroy();
      rmSync(site, { recursive: true, force: true });
    }
  });

  it('fails clearly when the image cannot be had', async () => {
    const missing = `baton-test/does-not-exist-${randomUUID().slice(0, 8)}:latest`;
    await expect(driver.start(config({ image: missing }))).rejects.toThrow(`image "${missing}" is not available on this node:`);
  });
});

describe('containerFinishedAt', () => {
  it("reads the engine's nanosecond time, and none for a container that never ended", () => {
    expect(containerFinishedAt('2026-12-01T22:00:02.850123456Z')).toBe('2026-12-01T22:00:02.850Z');
    expect(containerFinishedAt('2026-12-01T23:00:02+01:00')).toBe('2026-12-01T22:00:02.000Z');
    expect(containerFinishedAt('0001-01-01T00:00:00Z')).toBeUndefined();
    expect(containerFinishedAt('')).toBeUndefined();
    expect(containerFinishedAt(undefined)).toBeUndefined();
    expect(containerFinishedAt('yesterday')).toBeUndefined();
  });
});

describe('cpuHostConfig', () => {
  it('gives the request as CpuShares (1024 a core, 2 at least) and NanoCpus only for a limit', () => {
    expect(cpuHostConfig({ cpu: 100, memory: 0, disk: 0 })).toEqual({ CpuShares: 102 });
    expect(cpuHostConfig({ cpu: 0, memory: 0, disk: 0 })).toEqual({ CpuShares: 2 });
    expect(cpuHostConfig({ cpu: 2000, cpuLimit: 4000, memory: 0, disk: 0 })).toEqual({ CpuShares: 2048, NanoCpus: 4_000_000_000 });
  });
});

describe('networkHostConfig', () => {
  it('publishes each port on all interfaces at its container port, and binds volumes', () => {
    expect(
      networkHostConfig({
        ports: [
          { name: 'http', host: 23456, to: 8080 },
          { name: 'alt', host: 23457, to: 8080 },
          { name: 'metrics', host: 9100 },
        ],
        volumes: [
          { name: 'site', hostPath: '/srv/site', destination: '/www', readOnly: true },
          { name: 'data', hostPath: '/srv/data', destination: '/data', readOnly: false },
        ],
      }),
    ).toEqual({
      exposed: { '8080/tcp': {}, '9100/tcp': {} },
      bindings: {
        '8080/tcp': [
          { HostIp: '0.0.0.0', HostPort: '23456' },
          { HostIp: '0.0.0.0', HostPort: '23457' },
        ],
        '9100/tcp': [{ HostIp: '0.0.0.0', HostPort: '9100' }],
      },
      binds: ['/srv/site:/www:ro', '/srv/data:/data:rw'],
    });
    expect(networkHostConfig({})).toEqual({ exposed: {}, bindings: {}, binds: [] });
  });
});

describe('networkHostConfig on a given --address', () => {
  it('publishes only on the address the agent was given, never on every interface', () => {
    expect(networkHostConfig({ ports: [{ name: 'http', host: 23456, to: 80 }], bindAddress: '127.0.0.1' }).bindings).toEqual({
      '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '23456' }],
    });
  });
});

describe('docker asks', () => {
  it('refuses each ask the operator did not allow, naming the flag', () => {
    expect(refusal({ privileged: true }, [], [])).toBe('needs privileged containers, which this agent does not allow (start it with --allow privileged)');
    expect(refusal({ privileged: true, networkMode: 'host' }, ['privileged'], [])).toMatch(/host's network .*--allow host-network/);
    expect(refusal({ mounts: [{ source: '/etc', destination: '/h', readOnly: true }] }, [], ['/data'])).toMatch(
      /binds host path \/etc, which this agent does not allow \(allowed: \/data/,
    );
    expect(refusal({ privileged: true, mounts: [{ source: '/data/x', destination: '/x', readOnly: false }] }, ['privileged'], ['/data'])).toBeUndefined();
    expect(refusal(undefined, [], [])).toBeUndefined();
  });

  it("turns the asks into the Engine's HostConfig", () => {
    expect(
      asksHostConfig({
        privileged: true,
        networkMode: 'host',
        pidMode: 'host',
        capAdd: ['NET_ADMIN'],
        devices: ['/dev/fuse', '/dev/a:/dev/b:r'],
        mounts: [{ source: '/data', destination: '/in', readOnly: true }],
      }),
    ).toEqual({
      Privileged: true,
      NetworkMode: 'host',
      PidMode: 'host',
      CapAdd: ['NET_ADMIN'],
      Devices: [
        { PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'rwm' },
        { PathOnHost: '/dev/a', PathInContainer: '/dev/b', CgroupPermissions: 'r' },
      ],
      binds: ['/data:/in:ro'],
    });
  });
});

/**
 * `baton deploy` of a compose file, as a user types it, against a real server
 * and docker agents: three services (web → api → cache) come up in dependency
 * order, each dependent submitted once what it depends on is up, and all
 * replicas run (and are healthy, where the agent reports health). `baton stack`
 * lists, shows and removes the stack. `--dry-run` of a file with keys baton
 * cannot honour lists each with its line, and an invalid file is refused with
 * its line; those need no Docker.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { Alloc, JobDetail } from '../../src/api/types.js';
import { runCli, TestCluster, waitFor } from '../support/cluster.js';
import { TEST_IMAGE, ensureTestImage } from '../support/image.js';
import { dockerSuiteEnabled, removeContainersOfNodes, running } from '../support/e2e.js';

const EXAMPLES = resolve(import.meta.dirname, '../../examples/compose');

const baton = runCli;

// $$ keeps the variable for the container's shell: compose would interpolate $NAME itself
const httpd = (name: string, extra = ''): string => `mkdir -p /www && echo ${name} > /www/index.html && ${extra}exec httpd -f -p 80 -h /www`;

const STACK = `
name: shop
services:
  web:
    image: ${TEST_IMAGE}
    command: ["/bin/sh", "-c", "${httpd('web', 'echo api=$$BATON_UPSTREAM_API && ')}"]
    ports: ["80"]
    depends_on:
      api:
        condition: service_healthy
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:80/"]
      interval: 500ms
      timeout: 2s
      retries: 3
    stop_grace_period: 1s
    deploy:
      replicas: 2
      resources:
        limits: { cpus: "0.1", memory: 32M }
  api:
    image: ${TEST_IMAGE}
    command: /bin/sh -c "${httpd('api')}"
    ports: ["80"]
    depends_on: [cache]
    healthcheck:
      test: wget -q -O /dev/null http://127.0.0.1:80/
      interval: 500ms
      timeout: 2s
    stop_grace_period: 1s
    deploy:
      resources:
        limits: { cpus: "0.1", memory: 32M }
  cache:
    image: ${TEST_IMAGE}
    command: ["/bin/sh", "-c", "${httpd('cache')}"]
    ports: ["80"]
    stop_grace_period: 1s
    mem_limit: 32m
`;

const UNSUPPORTED = `services:
  web:
    image: ${TEST_IMAGE}
    build: .
    networks: [front]
    cap_add: [NET_ADMIN]
    ports: ["8080:80", "53:53/udp"]
    deploy:
      update_config: { order: start-first }
networks:
  front: {}
`;

describe('baton deploy --dry-run (no Docker needed)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'baton-e2e-compose-dry-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the job specs and lists every key it cannot honour, or honours only on some agents, with its line', async () => {
    await writeFile(join(dir, 'docker-compose.yml'), UNSUPPORTED);
    // no -f: docker-compose.yml of the working directory; no server needed
    const r = await baton(['deploy', '--dry-run', '--name', 'dry', '--addr', 'http://127.0.0.1:9'], {}, dir);
    expect(r.code).toBe(0);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS());
    expect(docs).toHaveLength(1);
    expect(docs[0]).toMatchObject({
      name: 'dry-web',
      type: 'service',
      meta: { stack: 'dry', service: 'web' },
      tasks: [{ image: TEST_IMAGE, ports: [{ name: 'p80', static: 8080, to: 80 }] }],
    });
    const warnings = r.stderr.trim().split('\n');
    expect(warnings).toEqual([
      expect.stringMatching(/^warning: docker-compose\.yml:4: services\.web\.build: build is not supported/),
      expect.stringMatching(/^warning: docker-compose\.yml:5: services\.web\.networks: networks is not supported/),
      expect.stringMatching(/^warning: docker-compose\.yml:6: services\.web\.cap_add: cap_add runs only on agents started with --allow cap-add/),
      expect.stringMatching(/^warning: docker-compose\.yml:7: services\.web\.ports\[1\]: udp ports are not supported/),
      expect.stringMatching(/^warning: docker-compose\.yml:9: services\.web\.deploy\.update_config\.order: order is not supported/),
      expect.stringMatching(/^warning: docker-compose\.yml:10: networks: networks is not supported/),
    ]);
  });

  it('prints JSON with -o json, and refuses an invalid file naming the line', async () => {
    const json = await baton(['deploy', '--dry-run', '-f', join(dir, 'docker-compose.yml'), '--name', 'dry', '-o', 'json'], {});
    expect(json.code).toBe(0);
    const out = JSON.parse(json.stdout) as { stack: string; jobs: Array<{ name: string }>; warnings: Array<{ line: number }> };
    expect(out.stack).toBe('dry');
    expect(out.jobs.map((j) => j.name)).toEqual(['dry-web']);
    expect(out.warnings.map((w) => w.line)).toEqual([4, 5, 6, 7, 9, 10]);

    await writeFile(join(dir, 'bad.yml'), 'services:\n  web:\n    command: ["true"]\n  db:\n    image: x\n    deploy: { replicas: many }\n');
    const bad = await baton(['deploy', '--dry-run', '-f', join(dir, 'bad.yml'), '--name', 'bad'], {});
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain('bad.yml is not a valid compose file (2 errors)');
    expect(bad.stderr).toContain('bad.yml:2: services.web: service web has no image');
    expect(bad.stderr).toContain('bad.yml:6: services.db.deploy.replicas: replicas must be a whole number');
  });

  it('translates the example without errors', async () => {
    const r = await baton(['deploy', '--dry-run', '-f', join(EXAMPLES, 'docker-compose.yml')], {});
    expect(r.code).toBe(0);
    expect(parseAllDocuments(r.stdout).map((d) => (d.toJS() as { name: string }).name)).toEqual(['shop-redis', 'shop-api', 'shop-web']);
  });
});

const enabled = await dockerSuiteEnabled();

/** up = running, and healthy when the agent reports health (it may not run checks yet) */
function up(a: Alloc): boolean {
  if (a.clientStatus !== 'running' || a.desiredStatus !== 'run') return false;
  const health = Object.values(a.taskStates).map((t) => t.health);
  return health.every((h) => h === undefined || h === 'healthy');
}

describe.skipIf(!enabled)('baton deploy of a three-service compose file', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  let dir: string;
  const nodeIds: string[] = [];

  beforeAll(async () => {
    await ensureTestImage();
    cluster = await TestCluster.start();
    for (const name of ['compose-a', 'compose-b']) {
      const agent = await cluster.addAgent({ name, cpu: '2', memory: '1Gi', drivers: 'docker' });
      nodeIds.push(await agent.ready());
    }
    env = { ...cluster.cliEnv(), BATON_DATA_DIR: '/nonexistent', HOME: await cluster.tempDir('home') };
    dir = await cluster.tempDir('compose');
    await writeFile(join(dir, 'compose.yaml'), STACK);
  });
  afterAll(async () => {
    await cluster?.stop();
    await removeContainersOfNodes(nodeIds);
  });

  it('submits the services in dependency order and every replica comes up', async () => {
    const r = await baton(['deploy', '--wait', '--timeout', '2m'], env, dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // each job is submitted only after what it depends on is up
    const submitted = [...r.stdout.matchAll(/^job (\S+) version 1 submitted/gm)].map((m) => m[1]);
    expect(submitted).toEqual(['shop-cache', 'shop-api', 'shop-web']);
    const lines = r.stdout.split('\n');
    const apiUp = lines.findIndex((l) => l.startsWith('shop-api: 1 of 1 running'));
    expect(apiUp).toBeGreaterThan(lines.findIndex((l) => l.startsWith('job shop-api ')));
    expect(apiUp).toBeLessThan(lines.findIndex((l) => l.startsWith('job shop-web ')));
    expect(r.stdout).toMatch(/stack shop: 3 jobs submitted, all up/);

    const details = new Map<string, JobDetail>();
    for (const [job, count] of [
      ['shop-cache', 1],
      ['shop-api', 1],
      ['shop-web', 2],
    ] as const) {
      const d = await waitFor(
        `${job}: ${count} up`,
        async () => {
          const x = await cluster.client.getJob(job, 'default');
          return running(x.allocs).filter(up).length === count ? x : undefined;
        },
        60_000,
        200,
      );
      details.set(job, d);
      expect(d.job.spec.meta).toMatchObject({ stack: 'shop' });
    }
    const web = details.get('shop-web')!;
    expect(web.job.spec.count).toBe(2);
    expect(web.job.spec.tasks[0]).toMatchObject({
      image: TEST_IMAGE,
      resources: { cpu: 100, memory: 32 * 1024 ** 2 },
      killTimeoutMs: 1000,
      upstreams: [{ service: 'shop-api', env: 'BATON_UPSTREAM_API' }],
      checks: [{ type: 'command', command: 'wget', intervalMs: 500 }],
    });
    expect(details.get('shop-api')!.job.spec.tasks[0].upstreams).toEqual([{ service: 'shop-cache', env: 'BATON_UPSTREAM_CACHE' }]);
  });

  it('lists the stack, shows its jobs and removes it', async () => {
    const ls = await baton(['stack', 'ls'], env);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/^shop\s+3\s+running$/m);
    const lsJson = JSON.parse((await baton(['stack', 'ls', '-o', 'json'], env)).stdout) as Array<{ name: string; jobs: number }>;
    expect(lsJson).toEqual([expect.objectContaining({ name: 'shop', jobs: 3 })]);

    const status = await baton(['stack', 'status', 'shop'], env);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^shop-web\s+web\s+service\s+1\s+running\s+2 running\s/m);
    expect(status.stdout).toMatch(/^shop-cache\s+cache\s+service\s+1\s+running\s+1 running\s+-\s/m);

    const missing = await baton(['stack', 'status', 'nope'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no stack nope in namespace default');

    const rmRun = await baton(['stack', 'rm', 'shop'], env);
    expect(rmRun.code).toBe(0);
    expect(rmRun.stdout.match(/^job shop-\S+ stopping/gm)).toHaveLength(3);
    await waitFor(
      "the stack's allocs to stop",
      async () => {
        const allocs = await cluster.client.listAllocs({ namespace: 'default' });
        return allocs.every((a) => a.clientStatus !== 'running' && a.clientStatus !== 'pending') || undefined;
      },
      60_000,
    );
    const after = JSON.parse((await baton(['stack', 'status', 'shop', '-o', 'json'], env)).stdout) as Array<{ job: { stopped: boolean } }>;
    expect(after.every((j) => j.job.stopped)).toBe(true);
  });
});

/**
 * `baton/client` as a user gets it: the package packed by `npm pack`,
 * installed into an empty project, imported by name, its types resolved by
 * TypeScript, and examples/simulation-master.mjs run against a real server
 * and agent: it dispatches a sweep from code and prints each run's result.
 */
import { execFile } from 'node:child_process';
import { copyFile, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../support/cluster.js';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '../..');

let cluster: TestCluster;
let project: string;

beforeAll(async () => {
  cluster = await TestCluster.start({ heartbeatTtl: '20s' });
  await cluster.addAgent({ name: 'a1', cpu: '2', memory: '2Gi' });
  const packs = await cluster.tempDir('pack');
  // dist/ is built by `npm test` before the suites run; packing must not build again
  await run('npm', ['pack', '--ignore-scripts', '--pack-destination', packs], { cwd: repo });
  const tarball = join(
    packs,
    (await readdir(packs)).find((f) => f.endsWith('.tgz'))!,
  );
  project = await cluster.tempDir('project');
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'sim-master', private: true, type: 'module' }));
  // from npm's cache (the repo's own install filled it); scripts off: the client needs no native module
  await run('npm', ['install', tarball, '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', '--omit=dev'], { cwd: project, timeout: 240_000 });
  await copyFile(join(repo, 'examples/simulation-master.mjs'), join(project, 'simulation-master.mjs'));
}, 300_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('the baton/client package', () => {
  it('runs the simulation master: a sweep dispatched from code, each result printed as it comes', async () => {
    const r = await run(process.execPath, ['simulation-master.mjs', '10'], {
      cwd: project,
      env: { ...process.env, ...cluster.cliEnv(), HOME: project },
      timeout: 120_000,
    }).catch((e: { code: number; stdout: string; stderr: string }) => e);
    const out = (r as { stdout: string }).stdout;
    // seed 7 fails on purpose: the master says so and exits 1
    expect((r as { code?: number }).code, (r as { stderr: string }).stderr).toBe(1);
    expect(out).toMatch(/^sweep [0-9a-f-]+: 10 runs of square queued$/m);
    for (let seed = 1; seed <= 10; seed++) {
      const line = out.split('\n').find((l) => new RegExp(`^seed +${seed} `).test(l));
      expect(line, `seed ${seed}`).toBeDefined();
      if (seed === 7) expect(line).toMatch(/failed +seed 7 diverged$/);
      else expect(line).toMatch(new RegExp(`complete +result ${seed * seed}$`));
    }
    expect(out).toMatch(/^done: 9 complete, 1 failed, median \d+ ms per run$/m);
  }, 180_000);

  it('comes with its types: a TypeScript program against it checks, and a wrong call does not', async () => {
    const ok = `import { BatonClient, connect, routes, type JobSummary } from 'baton/client';
const client: BatonClient = await connect();
const jobs: JobSummary[] = await client.listJobs('default');
const job = await client.api.getJob({ params: { id: 'x' }, query: { namespace: 'default' } });
console.log(jobs.length, job.job.id, routes.getJob.path);
`;
    const bad = `import { connect } from 'baton/client';
const client = await connect();
await client.api.getJob({ params: { name: 'x' } });
`;
    await writeFile(join(project, 'ok.ts'), ok);
    await writeFile(join(project, 'bad.ts'), bad);
    const tsc = join(repo, 'node_modules/typescript/bin/tsc');
    const flags = [
      '--noEmit',
      '--strict',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
      '--types',
      'node',
      '--typeRoots',
      join(repo, 'node_modules/@types'),
      '--skipLibCheck',
    ];
    await run(process.execPath, [tsc, ...flags, 'ok.ts'], { cwd: project });
    const failed = await run(process.execPath, [tsc, ...flags, 'bad.ts'], { cwd: project }).then(
      () => undefined,
      (e: { stdout: string }) => e.stdout,
    );
    expect(failed).toMatch(/bad\.ts.*'name' does not exist|Object literal may only specify known properties/);
  }, 120_000);
});

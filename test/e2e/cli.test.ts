/**
 * The `baton` command as a user types it, against a real server and exec
 * agent: submit and wait, list and inspect in tables and JSON, read and follow
 * logs, stop, and the errors a user sees for bad input or a missing token.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alloc, GcResponse, JobSummary, NodeSummary, RunsResponse } from '../../src/api/types.js';
import { runCli, TestCluster } from '../support/cluster.js';

const EXAMPLES = resolve(import.meta.dirname, '../../examples');

const baton = runCli;

describe('the baton CLI', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  let work: string;
  const run = (...args: string[]) => baton(args, env);

  beforeAll(async () => {
    cluster = await TestCluster.start();
    await cluster.addAgent({ name: 'cli-node', cpu: '2', memory: '2Gi', drivers: 'exec' });
    env = cluster.cliEnv();
    work = await cluster.tempDir('cli');
  });
  afterAll(async () => cluster?.stop());

  it('runs an example job to completion with --wait', async () => {
    const r = await run('run', join(EXAMPLES, 'hello.yaml'), '--wait');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/job hello version 1 submitted/);
    expect(r.stdout).toMatch(/3 complete/);
  });

  it('lists and shows jobs, nodes and allocs as tables and as JSON', async () => {
    const jobs = JSON.parse((await run('job', 'ls', '-o', 'json')).stdout) as JobSummary[];
    expect(jobs.find((j) => j.id === 'hello')).toMatchObject({ status: 'complete', allocs: { complete: 3 } });
    const table = (await run('job', 'ls')).stdout;
    expect(table).toMatch(/ID/);
    expect(table).toMatch(/hello\s+default\s+batch/);
    const status = await run('job', 'status', 'hello');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/complete/);
    expect(status.stdout).toMatch(/hello\[2\]|\b2\b/);

    const nodes = JSON.parse((await run('node', 'ls', '-o', 'json')).stdout) as NodeSummary[];
    expect(nodes.map((n) => n.name)).toEqual(['cli-node']);
    expect(nodes[0].capacity.memory).toBe(2 * 1024 ** 3);
    expect((await run('node', 'ls')).stdout).toMatch(/cli-node\s+\S*\s*ready/);
    const node = await run('node', 'status', 'cli-node');
    expect(node.code).toBe(0);
    expect(node.stdout).toMatch(/exec/);

    const allocs = JSON.parse((await run('alloc', 'ls', '--job', 'hello', '-o', 'json')).stdout) as Alloc[];
    expect(allocs).toHaveLength(3);
    const latest = JSON.parse((await run('alloc', 'ls', '--job', 'hello', '--newest', '--limit', '1', '-o', 'json')).stdout) as Alloc[];
    expect(latest.map((a) => a.id)).toEqual([allocs[2].id]);
    const one = await run('alloc', 'status', allocs[0].id.slice(0, 8));
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/greet/);
    expect(one.stdout).toMatch(/Terminated|exit/i);
  });

  it('prints the logs of an alloc, and follows a running one to its end', async () => {
    const allocs = JSON.parse((await run('alloc', 'ls', '--job', 'hello', '-o', 'json')).stdout) as Alloc[];
    const a = allocs.find((x) => x.index === 1)!;
    const logs = await run('logs', a.id);
    expect(logs.stdout).toBe(`hello from alloc 1 of job hello on node ${a.nodeId}\ndone\n`);

    const slow = join(work, 'slow.yaml');
    await writeFile(
      slow,
      'name: slow\ntype: batch\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sh\n    args: ["-c", "for i in 1 2 3; do echo tick $i; sleep 1; done"]\n',
    );
    await run('run', slow);
    let id = '';
    for (let i = 0; i < 100 && !id; i++) {
      const list = JSON.parse((await run('alloc', 'ls', '--job', 'slow', '-o', 'json')).stdout) as Alloc[];
      id = list.find((x) => x.clientStatus === 'running')?.id ?? '';
      if (!id) await new Promise((r) => setTimeout(r, 100));
    }
    expect(id).not.toBe('');
    const followed = await run('logs', id, 'main', '-f');
    expect(followed.code).toBe(0);
    expect(followed.stdout).toBe('tick 1\ntick 2\ntick 3\n');
  });

  it('finds an alloc by its name, or by the name of a job of one alloc, for logs and alloc status', async () => {
    // hello has three allocs: a name picks one, the job's name alone is ambiguous
    const byName = await run('logs', 'hello[2]');
    expect(byName.stderr).toBe('');
    expect(byName.stdout).toMatch(/^hello from alloc 2 of job hello on node /);
    const ambiguous = await run('logs', 'hello');
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toBe("Error: job hello has 3 allocs (hello[0], hello[1], hello[2]): name one, such as 'hello[0]', or give an alloc id\n");
    expect((await run('logs', 'hello[7]')).stderr).toBe('Error: job hello has no alloc hello[7]: baton job status hello lists its allocs\n');

    // slow (of the test before) has one alloc: its job's name is enough
    expect((await run('logs', 'slow')).stdout).toBe('tick 1\ntick 2\ntick 3\n');
    const [slow] = JSON.parse((await run('alloc', 'ls', '--job', 'slow', '-o', 'json')).stdout) as Alloc[];
    expect((JSON.parse((await run('alloc', 'status', 'slow', '-o', 'json')).stdout) as Alloc).id).toBe(slow.id);
    expect((JSON.parse((await run('alloc', 'status', 'hello[1]', '-o', 'json')).stdout) as Alloc).name).toBe('hello[1]');

    // a name is looked up in one namespace
    const elsewhere = await run('logs', 'slow', '-n', 'other');
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toMatch(/namespace other has no job "slow"/);
    expect((await run('alloc', 'status', 'nosuchjob')).stderr).toMatch(/^Error: no alloc has the id "nosuchjob", and namespace default has no job "nosuchjob"/);

    // a job named like the start of an alloc id: neither is picked silently
    const twin = slow.id.slice(0, 8);
    const twinFile = join(work, 'twin.yaml');
    await writeFile(twinFile, `name: "${twin}"\ntype: batch\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n`);
    expect((await run('run', twinFile, '--wait')).code).toBe(0);
    const both = await run('logs', twin);
    expect(both.code).toBe(1);
    expect(both.stderr).toBe(
      `Error: "${twin}" starts the id of alloc ${slow.id} and names job ${twin} too: give more of the id, or an alloc name such as '${twin}[0]'\n`,
    );
    expect((await run('logs', `${twin}[0]`)).code).toBe(0);
    expect((await run('logs', slow.id)).stdout).toBe('tick 1\ntick 2\ntick 3\n');
  });

  it('dispatches a sweep from a CSV file and a matrix, waits for it, and summarises it', async () => {
    const job = join(work, 'param.yaml');
    await writeFile(
      job,
      'name: param\ntype: batch\nparameterized:\n  meta_required: [scenario]\n  meta_optional: [seed]\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sh\n    args: ["-c", "echo s=$BATON_META_SCENARIO seed=$BATON_META_SEED; cat $BATON_PAYLOAD_FILE 2>/dev/null; true"]\n    resources: { memory: 32Mi }\n',
    );
    expect((await run('run', job)).code).toBe(0);
    const matrix = await run('dispatch', 'param', '--matrix', 'scenario=1..4', '--matrix', 'seed=1,2', '--wait');
    expect(matrix.stderr).toBe('');
    expect(matrix.code).toBe(0);
    expect(matrix.stdout).toMatch(/8 runs/);
    const csv = join(work, 'params.csv');
    await writeFile(csv, 'scenario,seed\n10,1\n11,"2"\n');
    const payload = join(work, 'input.json');
    await writeFile(payload, '{"x": 1}');
    const sweep = await run('dispatch', 'param', '--sweep', csv, '--payload', payload, '--wait');
    expect(sweep.code).toBe(0);

    const runs = (await run('job', 'status', 'param', '-o', 'csv')).stdout.trim().split('\n');
    expect(runs).toHaveLength(1 + 10);
    expect(runs[0]).toMatch(/scenario/);
    expect(runs.slice(1).every((r) => r.includes('complete'))).toBe(true);
    const status = await run('job', 'status', 'param');
    expect(status.stdout).toMatch(/10 complete|complete\s+10/);
    expect(status.stdout).toMatch(/p50/i);

    const children = JSON.parse((await run('job', 'ls', '--parent', 'param', '-o', 'json')).stdout) as JobSummary[];
    expect(children).toHaveLength(10);
    const rows = (JSON.parse((await run('job', 'status', 'param', '-o', 'json')).stdout) as RunsResponse).runs;
    const fromCsv = rows.find((r) => r.meta.scenario === '11')!;
    expect(fromCsv.meta.seed).toBe('2');
    expect((await run('logs', fromCsv.allocId!)).stdout).toBe('s=11 seed=2\n{"x": 1}');
    const fromMatrix = rows.find((r) => r.meta.scenario === '3' && r.meta.seed === '2')!;
    expect((await run('logs', fromMatrix.allocId!)).stdout).toBe('s=3 seed=2\n');

    const bad = join(work, 'bad.csv');
    await writeFile(bad, 'scenario,colour\n1,red\n');
    const r = await run('dispatch', 'param', '--sweep', bad);
    expect(r.code).toBe(1);
    // each problem once, by the row it came from (the server's message quotes the first by its wire path)
    expect(r.stderr.split('\n')).toEqual([
      'Error: nothing was dispatched (1 problem):',
      `  run 1, from ${bad} row 1 (line 2): meta.colour: unknown meta "colour"; this job takes scenario, seed`,
      '',
    ]);
  });

  it('stops a job', async () => {
    const file = join(work, 'forever.yaml');
    await writeFile(
      file,
      'name: forever\ntype: service\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sleep\n    args: ["600"]\n    kill_timeout: 1s\n',
    );
    expect((await run('run', file, '--wait')).code).toBe(0);
    expect((await run('job', 'stop', 'forever')).code).toBe(0);
    for (let i = 0; i < 100; i++) {
      const jobs = JSON.parse((await run('job', 'ls', '-o', 'json')).stdout) as JobSummary[];
      const j = jobs.find((x) => x.id === 'forever')!;
      if (j.status === 'stopped' && j.allocs.running === 0) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('forever did not stop');
  });

  it('lists a sweep page by page, sends a large one in parts and sums it up without reading its runs', async () => {
    // 1.5 GiB a run on a 2 GiB node: one runs at a time, the rest queue
    const spec = (name: string) =>
      `name: ${name}\ntype: batch\nparameterized:\n  meta_required: [i]\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sleep\n    args: ["120"]\n    kill_timeout: 1s\n    resources: { memory: 1536Mi }\n`;
    for (const name of ['wide', 'huge']) {
      await writeFile(join(work, `${name}.yaml`), spec(name));
      expect((await run('run', join(work, `${name}.yaml`))).code).toBe(0);
    }
    try {
      const wide = await run('dispatch', 'wide', '--matrix', 'i=1..300');
      expect(wide.stdout).toMatch(/dispatched 300 runs of wide \(sweep \w{8}\)/);

      const five = (await run('job', 'ls', '--parent', 'wide', '--limit', '5')).stdout.trimEnd().split('\n');
      expect(five).toHaveLength(6);
      expect(five[0]).toMatch(/^ID\s+NAMESPACE\s+TYPE/);
      expect(five[1]).toMatch(/^wide\/\w{8}-0\s+default\s+batch/);
      expect(five[5]).toMatch(/^wide\/\w{8}-4\s/);
      // every page, in submission order, as one JSON array written as the pages came
      const all = JSON.parse((await run('job', 'ls', '--parent', 'wide', '-o', 'json')).stdout) as JobSummary[];
      expect(all).toHaveLength(300);
      expect(all.map((j) => Number(j.id.split('-').at(-1)))).toEqual(Array.from({ length: 300 }, (_, i) => i));
      expect(all.every((j) => j.parentId === 'wide')).toBe(true);
      expect(JSON.parse((await run('job', 'ls', '--parent', 'wide', '--limit', '150', '-o', 'json')).stdout)).toHaveLength(150);
      const queued = JSON.parse((await run('job', 'ls', '--parent', 'wide', '--status', 'pending', '--limit', '10', '-o', 'json')).stdout) as JobSummary[];
      expect(queued.length).toBe(10);
      expect(queued.every((j) => j.status === 'pending')).toBe(true);

      const bogus = await run('job', 'ls', '--parent', 'wide', '--status', 'bogus');
      expect(bogus.code).toBe(1);
      expect(bogus.stderr).toMatch(/Allowed choices are pending, running, complete, failed, stopped/);
      const both = await run('job', 'ls', '--parent', 'wide', '-A');
      expect(both.code).toBe(1);
      expect(both.stderr).toMatch(/-n NAMESPACE instead of -A/);

      const huge = await run('dispatch', 'huge', '--matrix', 'i=1..25000');
      expect(huge.stderr).toBe('');
      expect(huge.code).toBe(0);
      expect(huge.stdout).toMatch(/dispatched 25,000 runs of huge \(sweep \w{8}, sent in 3 parts\)/);
      const status = await run('job', 'status', 'huge');
      expect(status.code).toBe(0);
      expect(status.stdout).toMatch(/Runs\s+25,000/);
      expect(status.stdout).toMatch(/Progress\s+0 of 25,000 finished \(0\.0%\)/);
      expect(status.stdout).toMatch(/States\s+2[45],\d{3} queued, [01] running, 0 complete, 0 failed, 0 stopped/);
      const doc = JSON.parse((await run('job', 'status', 'huge', '-o', 'json')).stdout) as RunsResponse;
      expect(doc.job.runs?.total).toBe(25_000);
      expect(doc.runs).toHaveLength(25_000);
      expect(doc.runs[24_999].meta).toEqual({ i: '25000' });
      const csv = (await run('job', 'status', 'huge', '-o', 'csv')).stdout.trimEnd().split('\n');
      expect(csv).toHaveLength(25_001);
      expect(csv[0]).toMatch(/^job,index,i,node/);
    } finally {
      await run('job', 'stop', 'wide');
      await run('job', 'stop', 'huge');
    }
    // the queued runs of a stopped parent are marked stopped in chunks
    for (let i = 0; ; i++) {
      const doc = JSON.parse((await run('job', 'status', 'huge', '-o', 'json')).stdout) as RunsResponse;
      if (doc.job.runs?.states.stopped === 25_000) break;
      if (i > 100) throw new Error(`huge did not stop: ${JSON.stringify(doc.job.runs?.states)}`);
      await new Promise((r) => setTimeout(r, 300));
    }
    const stopped = await run('job', 'status', 'huge');
    expect(stopped.stdout).toMatch(/States\s+0 queued, 0 running, 0 complete, 0 failed, 25,000 stopped/);
  });

  it('collects finished work with system gc', async () => {
    const r = await run('system', 'gc', '--older-than', '0s', '-o', 'json');
    expect(r.stderr).toBe('');
    const res = JSON.parse(r.stdout) as GcResponse;
    expect(res.runs).toBeGreaterThan(0);
    expect(Object.keys(res).sort()).toEqual(['allocs', 'before', 'deployments', 'durationMs', 'evals', 'jobs', 'logChunks', 'runs']);
    const again = await run('system', 'gc', '--older-than', '0s');
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/removed what finished before|nothing removed/);
    const bad = await run('system', 'gc', '--older-than', 'soon');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/is not a duration/);
  });

  it('shows what is wrong with a bad job file, with its line', async () => {
    const bad = join(work, 'bad.yaml');
    await writeFile(bad, 'name: bad\ntype: batch\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n    resources:\n      memory: 12 gigs\n');
    const r = await run('run', bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/tasks\[0\]\.resources\.memory/);
    expect(r.stderr).toMatch(/line 8/);
    const missing = await run('run', join(work, 'nope.yaml'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/does not exist/);
  });

  it('says how to pass a token when it has none, and rejects a wrong one', async () => {
    const home = await mkdtemp(join(tmpdir(), 'baton-cli-home-'));
    const none = await baton(['job', 'ls'], { ...cluster.cliEnv(), BATON_TOKEN: '', HOME: home, BATON_DATA_DIR: join(home, 'none') }, home);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/--token/);
    const wrong = await baton(['job', 'ls'], { ...cluster.cliEnv(), BATON_TOKEN: 'wrong' }, home);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/unknown token/);
  });

  it('has --help on every command', async () => {
    for (const cmd of [
      [],
      ['run'],
      ['job', 'ls'],
      ['job', 'status'],
      ['job', 'stop'],
      ['node', 'ls'],
      ['node', 'status'],
      ['alloc', 'ls'],
      ['alloc', 'status'],
      ['logs'],
      ['server'],
      ['agent'],
      ['dev'],
      ['dispatch'],
      ['job', 'scale'],
      ['job', 'start'],
      ['job', 'history'],
      ['job', 'revert'],
      ['node', 'drain'],
      ['node', 'eligibility'],
      ['deployment', 'ls'],
      ['deployment', 'status'],
      ['deployment', 'promote'],
      ['deployment', 'fail'],
      ['service', 'ls'],
      ['service', 'status'],
      ['deploy'],
      ['stack', 'ls'],
      ['stack', 'status'],
      ['stack', 'rm'],
      ['events'],
      ['system'],
      ['system', 'gc'],
    ]) {
      const r = await baton([...cmd, '--help'], {});
      expect(r.code, `baton ${cmd.join(' ')} --help`).toBe(0);
      expect(r.stdout).toMatch(/Usage: baton/);
    }
  });
});

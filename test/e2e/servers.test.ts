/**
 * Three real servers on one PostgreSQL database, an agent that knows all
 * three, and the faults #13 names: any server answers any request, the
 * leader is killed mid-sweep (another leads within seconds and every run
 * completes exactly once), and a leader cut off from PostgreSQL stops
 * leading within its lease while another takes over.
 */
import { chmod, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterEvent } from '../../src/api/types.js';
import { BatonClient } from '../../src/client/client.js';
import { freshDatabase } from '../support/postgres.js';
import { postgresAdminUrl } from '../support/stores.js';
import { runCli, startProc, waitFor, type Proc } from '../support/cluster.js';
import { CuttableRelay, kill, leaderOf, removeDirs, startServer, type ServerProc } from '../support/servers.js';

const admin = postgresAdminUrl();

const sweep = (name: string, count: number, dir: string, seconds: number) => `name: ${name}
type: batch
count: ${count}
tasks:
  - name: main
    driver: exec
    command: /bin/sh
    args: ["-c", "echo $BATON_ALLOC_INDEX >> ${dir}/${name}.starts; sleep ${seconds}; echo $BATON_ALLOC_INDEX >> ${dir}/${name}.ends"]
    resources: { cpu: 100m, memory: 32Mi }
`;

async function lines(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).sort((a, b) => Number(a) - Number(b));
}

const range = (n: number): string[] => Array.from({ length: n }, (_, i) => String(i));

describe.skipIf(!admin)('several servers on one PostgreSQL database', () => {
  const dirs: string[] = [];
  let servers: ServerProc[] = [];
  let agent: Proc;
  let agentDir: string;
  let scratch: string;
  /** one client that knows every server, as a user's CLI with --addr a,b,c would */
  let any: BatonClient;
  let storeUrl: string;

  beforeAll(async () => {
    storeUrl = await freshDatabase(admin!);
    const first = await startServer({ storeUrl, dirs });
    servers = [first, await startServer({ storeUrl, dirs, like: first }), await startServer({ storeUrl, dirs, like: first })];
    await waitFor('three servers listed', async () => (await first.client.status()).servers.length === 3 || undefined);
    scratch = await mkdtemp(join(tmpdir(), 'baton-e2e-servers-'));
    agentDir = await mkdtemp(join(tmpdir(), 'baton-e2e-servers-agent-'));
    dirs.push(scratch, agentDir);
    // tasks run as nobody: the markers go to a directory they may write
    await chmod(scratch, 0o777);
    agent = startProc(['agent', '--server', servers.map((s) => s.url).join(','), '--data-dir', agentDir, '--name', 'multi', '--cpu', '4', '--memory', '2Gi', '--drivers', 'exec', '--log-level', 'info'],
      { BATON_JOIN_TOKEN: first.joinToken });
    any = new BatonClient({ baseUrl: servers.map((s) => s.url), token: first.adminToken, ca: await readFile(first.caFile, 'utf8') });
    await waitFor('the agent to be ready', async () => {
      if (agent.child.exitCode !== null) throw new Error(`agent exited: ${agent.output()}`);
      return (await any.listNodes()).some((n) => n.name === 'multi' && n.status === 'ready') || undefined;
    }, 60_000);
  });

  afterAll(async () => {
    if (agent && agent.child.exitCode === null) {
      agent.child.kill('SIGTERM');
      await agent.exited;
    }
    for (const s of servers) await kill(s, 'SIGTERM');
    await removeDirs(dirs);
  });

  it('serves every request on every server: one CA, one leader, and a write on one seen by a watcher on another', async () => {
    const pems = await Promise.all(servers.map((s) => readFile(join(s.dataDir, 'ca.pem'), 'utf8')));
    expect(new Set(pems).size).toBe(1);
    const statuses = await Promise.all(servers.map((s) => s.client.status()));
    expect(new Set(statuses.map((s) => s.leaderId)).size).toBe(1);
    expect(statuses.filter((s) => s.leader)).toHaveLength(1);
    expect(statuses.map((s) => s.serverId).sort()).toEqual(servers.map((s) => s.id).sort());

    // a follower on the third server hears a job submitted on the second
    const third = servers[2];
    const abort = new AbortController();
    const seen: ClusterEvent[] = [];
    const start = (await third.client.status()).index;
    const following = (async () => {
      for await (const e of third.client.followEvents({ topics: ['job'], index: start }, abort.signal)) {
        seen.push(e);
        if (e.key === 'across' && (e.payload as { status?: string }).status === 'complete') abort.abort();
      }
    })();
    await servers[1].client.submitJob(sweep('across', 2, scratch, 0), 'across.yaml');
    await Promise.race([following, new Promise((_, rej) => setTimeout(() => rej(new Error(`the third server did not stream the job's completion; saw ${seen.map((e) => e.type).join(', ')}`)), 60_000))]);
    expect(seen[0]).toMatchObject({ type: 'JobRegistered', key: 'across' });
    // the stream resumes on the first server from an index the third handed out
    const resumed = await servers[0].client.recentEvents({ topics: ['job'], index: seen[0].index });
    expect(resumed.events.map((e) => e.index)).toEqual(seen.slice(1).map((e) => e.index).filter((i) => resumed.events.some((r) => r.index === i)));
    expect(resumed.events.every((e) => e.index > seen[0].index)).toBe(true);
    expect(resumed.events.some((e) => e.key === 'across' && (e.payload as { status?: string }).status === 'complete')).toBe(true);

    // `baton server status` on any server: every server, the leader marked
    const cli = await runCli(['server', 'status', '-o', 'json'], { BATON_ADDR: third.url, BATON_TOKEN: third.adminToken, BATON_CA_FILE: third.caFile });
    expect(cli.code, cli.stderr).toBe(0);
    const st = JSON.parse(cli.stdout) as { servers: Array<{ id: string; leader: boolean }>; leaderId: string };
    expect(st.servers.filter((x) => x.leader).map((x) => x.id)).toEqual([st.leaderId]);
  });

  it('carries on when the leader is killed mid-sweep: another leads within seconds and every run completes once', async () => {
    const count = 8;
    const leader = await leaderOf(servers[0]);
    const victim = servers.find((s) => s.id === leader.leaderId)!;
    const survivors = servers.filter((s) => s !== victim);
    await any.submitJob(sweep('failover', count, scratch, 4), 'failover.yaml');
    await waitFor('runs to start', async () => (await lines(join(scratch, 'failover.starts'))).length >= 2 || undefined, 60_000);
    const killedAt = Date.now();
    await kill(victim);
    const next = await leaderOf(survivors[0], victim.id);
    const tookMs = Date.now() - killedAt;
    // shown, not asserted: timing belongs in benchmarks
    process.stdout.write(`leader ${victim.id} killed; ${next.leaderId} leads after ${tookMs} ms (epoch ${next.leaderEpoch})\n`);
    expect(survivors.map((s) => s.id)).toContain(next.leaderId);

    const done = await waitFor('the sweep to complete', async () => {
      const d = await any.getJob('failover', 'default');
      return d.job.status === 'complete' ? d : undefined;
    }, 120_000, 250);
    expect(done.allocs).toHaveLength(count);
    expect(done.allocs.every((a) => a.clientStatus === 'complete')).toBe(true);
    // each run started once and ended once: none was run again, none twice at once
    expect(await lines(join(scratch, 'failover.starts'))).toEqual(range(count));
    expect(await lines(join(scratch, 'failover.ends'))).toEqual(range(count));

    // the new leader schedules new work submitted to any server
    await survivors[1].client.submitJob(sweep('after', 2, scratch, 0), 'after.yaml');
    await waitFor('the job after the failover', async () => (await any.getJob('after', 'default')).job.status === 'complete' || undefined, 60_000, 250);
    servers = survivors;
  });

  it('a leader cut off from PostgreSQL stops leading within its lease, and another takes over', async () => {
    // a server whose only way to the database is a relay the test can cut
    const relay = await CuttableRelay.start(Number(new URL(admin!).port));
    try {
      const viaRelay = new URL(storeUrl);
      viaRelay.port = String(relay.port);
      const [stay, other] = servers;
      await kill(other, 'SIGTERM');
      const cutOff = await startServer({ storeUrl: viaRelay.toString(), dirs, like: stay });
      // the lead passes to the relayed server: the one left stops cleanly (giving the lease up) and comes back as a follower
      await kill(stay, 'SIGTERM');
      await waitFor('the relayed server to lead', async () => (await cutOff.client.status()).leader || undefined, 60_000, 100);
      const back = await startServer({ storeUrl, dirs, restart: stay });
      servers = [cutOff, back];
      await waitFor('the agent to be ready', async () => (await back.client.listNodes()).some((n) => n.name === 'multi' && n.status === 'ready') || undefined, 60_000);

      relay.cut();
      const cutAt = Date.now();
      const next = await leaderOf(back, cutOff.id, 60_000);
      process.stdout.write(`leader cut off from PostgreSQL; ${next.leaderId} leads after ${Date.now() - cutAt} ms\n`);
      expect(next.leaderId).toBe(back.id);
      // the cut-off server stopped leading by its own clock: it could not renew
      await waitFor('the cut-off server to step down', () => /leader lease could not be renewed/.test(cutOff.proc.output()) || undefined, 30_000);
      // work goes on under the new leader, on the agent that moved to it
      await back.client.submitJob(sweep('partitioned', 2, scratch, 0), 'partitioned.yaml');
      await waitFor('a job under the new leader', async () => (await back.client.getJob('partitioned', 'default')).job.status === 'complete' || undefined, 60_000, 250);
      await kill(cutOff);
    } finally {
      await relay.close();
    }
  }, 240_000);
});

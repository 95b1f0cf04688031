/**
 * The agent process itself dies (kill -9): its tasks must not outlive it by
 * more than the bound the server counts on (issue #12, "never the same run
 * twice at once"). The node's watchdog stops them stopAfter after the last
 * server contact and SIGKILLs them at killAfter, before the server places
 * their replacements on another node; an agent restarted in time takes them
 * up again and the watchdog kills nothing.
 */
import { readdirSync, rmdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alloc } from '../../src/api/types.js';
import { monotonicMs } from '../../src/agent/contact.js';
import { readLease, type AgentLease } from '../../src/agent/lease.js';
import { StateStore } from '../../src/agent/state-file.js';
import { readNodeFile } from '../../src/agent/registration.js';
import { processAlive, readProcStat } from '../../src/drivers/proc.js';
import { defaultStopAfterMs, disconnectDeadline } from '../../src/jobs/disconnect.js';
import { TestCluster, waitFor, type TestAgent } from '../support/cluster.js';
import { containersOfNode, dockerClient, dockerSuiteEnabled, removeContainersOfNodes, running, waitForJob } from '../support/e2e.js';
import { ensureTestImage } from '../support/image.js';

const TTL_MS = 6000;
const KILL_TIMEOUT_MS = 1000;
const DEADLINE = disconnectDeadline(undefined, { ttlMs: TTL_MS, stopAfterMs: defaultStopAfterMs(TTL_MS) }, KILL_TIMEOUT_MS)!;
/** how late a task may die after its deadline: the watchdog wakes at the deadline, the test looks every 25 ms */
const SLACK_MS = 750;

const docker = await dockerSuiteEnabled();

interface Copy {
  alloc: Alloc;
  pid: number;
  start: string;
}

/** one process per alloc: `<marks>/<alloc>.pid` holds the task's pid (its mtime: when it started), `<marks>/<alloc>` is touched every 100 ms */
function execJob(name: string, marks: string, count: number): string {
  // index 1 ignores SIGTERM (and so does its sleep): only the SIGKILL at killAfter ends it
  const script = `M=${marks}/$BATON_ALLOC_ID; [ "$BATON_ALLOC_INDEX" = 1 ] && trap '' TERM; echo $$ > $M.pid; while :; do touch $M; sleep 0.1; done`;
  return `name: ${name}\ntype: service\ncount: ${count}\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sh\n    args: ["-c", ${JSON.stringify(script)}]\n    kill_timeout: ${KILL_TIMEOUT_MS / 1000}s\n    resources: { cpu: 50m, memory: 32Mi }\n`;
}

async function copiesOf(cluster: TestCluster, job: string, marks: string, count: number): Promise<Copy[]> {
  const d = await waitForJob(cluster.client, job, (x) => running(x.allocs).length === count, `${count} running`);
  const out: Copy[] = [];
  for (const alloc of running(d.allocs)) {
    const pid = await waitFor(`the pid of ${alloc.id}`, async () => Number((await readFile(`${marks}/${alloc.id}.pid`, 'utf8')).trim()) || undefined);
    out.push({ alloc, pid, start: readProcStat(pid)!.startTime });
  }
  return out;
}

function mtimeMs(path: string): number {
  return statSync(path).mtimeMs;
}

/** the exec tasks' leaf cgroups of a node whose agent never came back (the next agent would free them) */
async function removeTaskCgroups(dataDir: string): Promise<void> {
  const nf = await readNodeFile(dataDir).catch(() => undefined);
  if (!nf) return;
  for (const h of ['', 'memory', 'cpu', 'cpuacct', 'cpu,cpuacct']) {
    const dir = join('/sys/fs/cgroup', h, 'baton', nf.nodeId);
    let names: string[] = [];
    try {
      names = readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      continue;
    }
    for (const n of names) {
      try {
        rmdirSync(join(dir, n));
      } catch {
        // still busy, or not ours to remove
      }
    }
  }
}

function killGroup(pid: number): void {
  const pgrp = readProcStat(pid)?.pgrp;
  try {
    process.kill(pgrp ? -pgrp : pid, 'SIGKILL');
  } catch {
    // gone meanwhile
  }
}

/** the watchdog's JSON lines */
async function watchdogLog(agent: TestAgent): Promise<Array<{ msg: string; [k: string]: unknown }>> {
  const text = await readFile(join(agent.dataDir, 'watchdog.log'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string });
}

/** the lease the agent wrote last, once it lists `tasks` tasks */
function leaseWith(agent: TestAgent, tasks: number): Promise<AgentLease> {
  return waitFor(`the lease of ${agent.opts.name} to list ${tasks} tasks`, async () => {
    const l = await readLease(agent.dataDir);
    return l && l.agentPid === agent.proc?.child.pid && l.tasks.length === tasks ? l : undefined;
  });
}

/** polls until every pid is gone; returns the monotonic time each was first seen gone */
async function deathTimes(copies: Copy[], timeoutMs: number): Promise<Map<string, number>> {
  const dead = new Map<string, number>();
  const end = Date.now() + timeoutMs;
  while (dead.size < copies.length) {
    const now = monotonicMs();
    for (const c of copies) if (!dead.has(c.alloc.id) && !processAlive(c.pid, c.start)) dead.set(c.alloc.id, now);
    if (Date.now() > end)
      throw new Error(
        `tasks still alive after ${timeoutMs} ms: ${copies
          .filter((c) => !dead.has(c.alloc.id))
          .map((c) => c.pid)
          .join(', ')}`,
      );
    await new Promise((r) => setTimeout(r, 25));
  }
  return dead;
}

describe('a killed agent: the watchdog stops its exec tasks at the bound', () => {
  let cluster: TestCluster;
  let marks = '';
  let victim: TestAgent;
  let copies: Copy[] = [];

  beforeAll(async () => {
    cluster = await TestCluster.start({ heartbeatTtl: `${TTL_MS / 1000}s` });
    marks = await cluster.tempDir('marks');
    victim = await cluster.addAgent({ name: 'victim', cpu: '2', memory: '1Gi', drivers: 'exec' });
    await cluster.client.submitJob(execJob('twice', marks, 2), 'twice.yaml');
    copies = await copiesOf(cluster, 'twice', marks, 2);
    // the replacements' node joins only now, so both copies run on the victim
    await cluster.addAgent({ name: 'spare', cpu: '2', memory: '1Gi', drivers: 'exec' });
  });
  afterAll(async () => {
    // a failed run must not leave its copies behind
    for (const c of copies) if (processAlive(c.pid, c.start)) killGroup(c.pid);
    await cluster?.stop();
    if (victim) await removeTaskCgroups(victim.dataDir);
  });

  it('kills them within stopAfter + kill timeout of the last contact, before their replacements start', async () => {
    const lease = await leaseWith(victim, 2);
    expect(lease.tasks.map((t) => [t.stopAfterMs, t.killAfterMs])).toEqual([
      [DEADLINE.stopAfterMs, DEADLINE.killAfterMs],
      [DEADLINE.stopAfterMs, DEADLINE.killAfterMs],
    ]);
    await victim.kill();
    // what the watchdog counts from: the contact in the lease the dead agent wrote last
    const { contactAt } = (await readLease(victim.dataDir))!;
    const dead = await deathTimes(copies, 30_000);
    const polite = copies.find((c) => c.alloc.index === 0)!;
    const stubborn = copies.find((c) => c.alloc.index === 1)!;
    // not before the bound (no one else killed them), and not later than it allows
    expect(dead.get(polite.alloc.id)! - contactAt).toBeGreaterThanOrEqual(DEADLINE.stopAfterMs);
    expect(dead.get(polite.alloc.id)! - contactAt).toBeLessThan(DEADLINE.stopAfterMs + SLACK_MS);
    // it ignores SIGTERM: the SIGKILL at killAfter ends it
    expect(dead.get(stubborn.alloc.id)! - contactAt).toBeGreaterThanOrEqual(DEADLINE.killAfterMs);
    expect(dead.get(stubborn.alloc.id)! - contactAt).toBeLessThan(DEADLINE.killAfterMs + SLACK_MS);

    const log = await watchdogLog(victim);
    expect(
      log
        .filter((l) => l.msg === 'agent gone past the bound: sending the kill signal')
        .map((l) => l.allocId)
        .sort(),
    ).toEqual(copies.map((c) => c.alloc.id).sort());
    expect(log.filter((l) => l.msg === 'sending SIGKILL').map((l) => l.allocId)).toEqual([stubborn.alloc.id]);
    // marked as stopped for the lost server: an agent that comes back reports them lost, not failed
    const store = new StateStore(victim.dataDir);
    for (const c of copies) expect((await store.read(c.alloc.id))?.lostReason).toMatch(/the node's watchdog stopped it/);

    // the server replaces them on the spare node: each replacement starts after its original's last sign of life
    const d = await waitForJob(
      cluster.client,
      'twice',
      (x) => running(x.allocs).filter((a) => a.previousAllocId !== undefined).length === 2,
      'both replaced',
      30_000,
    );
    for (const c of copies) {
      const next = running(d.allocs).find((a) => a.previousAllocId === c.alloc.id)!;
      expect(next.nodeId).not.toBe(c.alloc.nodeId);
      const startedAt = await waitFor(`the replacement of ${c.alloc.id} to start`, () => mtimeMs(`${marks}/${next.id}.pid`));
      expect(mtimeMs(`${marks}/${c.alloc.id}`)).toBeLessThan(startedAt);
    }
    // and the watchdog is done: nothing left to watch
    await waitFor('the watchdog to exit', async () =>
      (await watchdogLog(victim)).some((l) => l.msg === 'the agent is gone and none of its tasks is left: exiting'),
    );
  });
});

describe('a killed agent restarted in time: the watchdog kills nothing', () => {
  // a longer TTL: the agent's restart (start, register, re-attach, write its lease) must fit well
  // within the bound on a loaded machine
  const ttlMs = 9000;
  const deadline = disconnectDeadline(undefined, { ttlMs, stopAfterMs: defaultStopAfterMs(ttlMs) }, KILL_TIMEOUT_MS)!;
  let cluster: TestCluster;
  let marks = '';
  let agent: TestAgent;
  let copies: Copy[] = [];

  beforeAll(async () => {
    cluster = await TestCluster.start({ heartbeatTtl: `${ttlMs / 1000}s` });
    marks = await cluster.tempDir('marks');
    agent = await cluster.addAgent({ name: 'phoenix', cpu: '2', memory: '1Gi', drivers: 'exec' });
    await cluster.client.submitJob(execJob('stay', marks, 2), 'stay.yaml');
    copies = await copiesOf(cluster, 'stay', marks, 2);
  });
  afterAll(async () => cluster?.stop());

  it('keeps the same processes and allocs past the old agent’s deadline', async () => {
    const first = await leaseWith(agent, 2);
    // killed right after a heartbeat: the whole bound is left for the restart
    const before = await waitFor(
      'a heartbeat in the lease',
      async () => {
        const l = await readLease(agent.dataDir);
        return l && l.contactAt > first.contactAt ? l : undefined;
      },
      20_000,
      20,
    );
    const oldPid = agent.proc!.child.pid;
    await agent.kill();
    const restartedAt = Date.now();
    agent.start();
    const nodeId = await agent.ready();
    // the restarted agent reached the server, and the watchdog knows it took over
    await waitFor('a heartbeat of the restarted agent', async () => {
      const n = (await cluster.client.listNodes()).find((x) => x.id === nodeId);
      return n && Date.parse(n.lastHeartbeatAt) > restartedAt ? n : undefined;
    });
    const after = await leaseWith(agent, 2);
    expect(after.agentPid).not.toBe(oldPid);
    expect(after.tasks.map((t) => t.handle.id).sort()).toEqual(before.tasks.map((t) => t.handle.id).sort());
    await waitFor('the watchdog to defer to the new agent', async () =>
      (await watchdogLog(agent)).some((l) => l.msg === 'a new agent process took over the lease' && l.agentPid === after.agentPid),
    );
    // the moment the old lease would have had them killed has passed
    await waitFor('the old deadline to pass', () => monotonicMs() > before.contactAt + deadline.killAfterMs + SLACK_MS || undefined, 20_000, 50);

    for (const c of copies) expect(processAlive(c.pid, c.start)).toBe(true);
    const allocs = running((await cluster.client.getJob('stay', 'default')).allocs);
    expect(allocs.map((a) => a.id).sort()).toEqual(copies.map((c) => c.alloc.id).sort());
    for (const c of copies) expect((await readFile(`${marks}/${c.alloc.id}.pid`, 'utf8')).trim()).toBe(String(c.pid));
    const log = await watchdogLog(agent);
    // it saw the old agent go, and touched none of its tasks
    expect(log.some((l) => l.msg.startsWith('agent gone:') && l.agentPid === oldPid)).toBe(true);
    expect(log.filter((l) => /kill signal|SIGKILL|task ended|task killed|already|cannot|marked lost/.test(l.msg))).toEqual([]);
  });
});

describe.skipIf(!docker)('a killed agent: the watchdog stops its containers at the bound', () => {
  let cluster: TestCluster;
  let victim: TestAgent;
  const nodeIds: string[] = [];

  beforeAll(async () => {
    const image = await ensureTestImage();
    cluster = await TestCluster.start({ heartbeatTtl: `${TTL_MS / 1000}s` });
    victim = await cluster.addAgent({ name: 'victim-docker', cpu: '2', memory: '1Gi', drivers: 'docker' });
    nodeIds.push(await victim.ready());
    // pid 1 of a container ignores SIGTERM: it ends at the SIGKILL
    await cluster.client.submitJob(
      `name: boxed\ntype: service\ncount: 1\ntasks:\n  - name: main\n    driver: docker\n    image: ${image}\n    command: /bin/sleep\n    args: ["3600"]\n    kill_timeout: ${KILL_TIMEOUT_MS / 1000}s\n    resources: { cpu: 50m, memory: 32Mi }\n`,
      'boxed.yaml',
    );
    await waitForJob(cluster.client, 'boxed', (d) => running(d.allocs).length === 1, '1 running');
    const spare = await cluster.addAgent({ name: 'spare-docker', cpu: '2', memory: '1Gi', drivers: 'docker' });
    nodeIds.push(await spare.ready());
  });
  afterAll(async () => {
    await cluster?.stop();
    await removeContainersOfNodes(nodeIds);
  });

  it('kills the container by killAfter of the last contact, before its replacement starts', async () => {
    const [orig] = running((await cluster.client.getJob('boxed', 'default')).allocs);
    const [container] = await containersOfNode(nodeIds[0]);
    expect(container).toBeDefined();
    await leaseWith(victim, 1);
    await victim.kill();
    const { contactAt } = (await readLease(victim.dataDir))!;
    const box = dockerClient().getContainer(container.Id);
    const diedAt = await waitFor('the container to stop', async () => ((await box.inspect()).State.Running ? undefined : monotonicMs()), 30_000, 25);
    expect(diedAt - contactAt).toBeGreaterThanOrEqual(DEADLINE.stopAfterMs);
    expect(diedAt - contactAt).toBeLessThan(DEADLINE.killAfterMs + SLACK_MS);
    expect((await watchdogLog(victim)).some((l) => l.msg === 'sending SIGKILL' && l.allocId === orig.id)).toBe(true);

    const d = await waitForJob(cluster.client, 'boxed', (x) => running(x.allocs).some((a) => a.previousAllocId === orig.id), 'replaced', 30_000);
    const next = running(d.allocs).find((a) => a.previousAllocId === orig.id)!;
    expect(next.nodeId).toBe(nodeIds[1]);
    const [replacement] = await containersOfNode(nodeIds[1]);
    const started = Date.parse((await dockerClient().getContainer(replacement.Id).inspect()).State.StartedAt);
    const finished = Date.parse((await box.inspect()).State.FinishedAt);
    // one engine's clock for both: the original was gone before the replacement started
    expect(finished).toBeLessThan(started);
  });
});

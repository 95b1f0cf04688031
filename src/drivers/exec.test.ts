import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { resolveTaskUser } from '../agent/task-user.js';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { ExecDriver } from './exec.js';
import { Cgroups, cpuWeight } from './cgroups.js';
import { PerlLauncher } from './exec-launcher.js';
import { findCommand, sleep } from './proc.js';
import type { LogRecord, RunningTask, TaskConfig } from './driver.js';
import { waitFor } from '../../test/support/cluster.js';

const nodeId = `test-${randomUUID().slice(0, 8)}`;
const dirs: string[] = [];
const tasks: RunningTask[] = [];

function config(over: Partial<TaskConfig> = {}): TaskConfig {
  const taskDir = mkdtempSync(join(tmpdir(), 'baton-exec-'));
  dirs.push(taskDir);
  return {
    nodeId,
    allocId: randomUUID(),
    allocName: 'job[0]',
    allocIndex: 0,
    namespace: 'default',
    jobId: 'job',
    taskName: 'main',
    args: [],
    env: {},
    resources: { cpu: 100, memory: 64 * 1024 * 1024, disk: 0 },
    killSignal: 'SIGTERM',
    killTimeoutMs: 1000,
    taskDir,
    ...over,
  };
}

async function run(driver: ExecDriver, c: TaskConfig): Promise<RunningTask> {
  const t = await driver.start(c);
  tasks.push(t);
  return t;
}

async function collect(logs: AsyncIterable<LogRecord>): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  for await (const r of logs) out.push(r);
  return out;
}

const text = (recs: LogRecord[], stream: 'stdout' | 'stderr') => Buffer.concat(recs.filter((r) => r.stream === stream).map((r) => r.data)).toString();

afterAll(async () => {
  for (const t of tasks) await t.destroy().catch(() => {});
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  // the per-node parent dirs outlive their tasks by design; drop this test node's
  for (const sub of ['memory', 'cpu', '']) {
    try {
      rmdirSync(join('/sys/fs/cgroup', sub, 'baton', nodeId));
    } catch {
      // not there on this hierarchy
    }
  }
});

const cgroups = new Cgroups();
const cgroupsUsable = cgroups.version !== 'none';
if (!cgroupsUsable && process.env.BATON_REQUIRE_CGROUPS === '1') {
  throw new Error(`BATON_REQUIRE_CGROUPS=1 but cgroups are not usable: ${cgroups.reason}`);
}

// every behaviour through both ways of forking the wrapper (perl's only where perl is installed)
const hasPerl = findCommand('perl', process.env.PATH ?? '', '/') !== undefined;
const launchers: Array<'perl' | 'node'> = hasPerl ? ['perl', 'node'] : ['node'];

describe.each(launchers)('ExecDriver (%s launcher)', (launcher) => {
  const driver = new ExecDriver({ launcher });

  it('reports the exit code and signal', async () => {
    const ok = await run(driver, config({ command: '/bin/sh', args: ['-c', 'exit 0'] }));
    expect((await ok.wait()).exitCode).toBe(0);
    const three = await run(driver, config({ command: 'sh', args: ['-c', 'exit 3'] }));
    const r = await three.wait();
    expect(r.exitCode).toBe(3);
    expect(r.oomKilled).toBe(false);
    expect(r.signal).toBeUndefined();
    const killed = await run(driver, config({ command: 'sh', args: ['-c', 'kill -KILL $$'] }));
    expect(await killed.wait()).toMatchObject({ exitCode: 137, signal: 'SIGKILL' });
  });

  it('passes env plus PATH and keeps stdout and stderr apart', async () => {
    const t = await run(
      driver,
      config({ command: 'sh', args: ['-c', 'echo "v=$BATON_X"; echo "to err" >&2; echo "path=$PATH"'], env: { BATON_X: 'a b "c"' } }),
    );
    expect((await t.wait()).exitCode).toBe(0);
    const recs = await collect(t.logs());
    expect(text(recs, 'stdout')).toContain('v=a b "c"\n');
    expect(text(recs, 'stdout')).toContain(`path=${process.env.PATH}`);
    expect(text(recs, 'stderr')).toBe('to err\n');
  });

  it('follows logs while running and resumes from a cursor without repeats', async () => {
    const t = await run(driver, config({ command: 'sh', args: ['-c', 'for i in 1 2 3 4 5; do echo line$i; sleep 0.2; done'] }));
    const first: LogRecord[] = [];
    for await (const r of t.logs()) {
      first.push(r);
      if (text(first, 'stdout').includes('line2')) break;
    }
    const rest = await collect(t.logs(first[first.length - 1].cursor));
    expect(text(first, 'stdout') + text(rest, 'stdout')).toBe('line1\nline2\nline3\nline4\nline5\n');
    expect((await t.wait()).exitCode).toBe(0);
  });

  it('fails clearly when the command does not exist', async () => {
    await expect(driver.start(config({ command: 'no-such-binary-baton' }))).rejects.toThrow(/command "no-such-binary-baton" not found on this node \(PATH=/);
    await expect(driver.start(config({ command: '/nope/bin/x' }))).rejects.toThrow(/not found/);
  });

  it('escalates to SIGKILL when the task ignores the stop signal', async () => {
    const t = await run(driver, config({ command: 'sh', args: ['-c', 'trap "" TERM; echo ready; sleep 30'] }));
    for await (const r of t.logs()) if (r.data.toString().includes('ready')) break;
    await t.stop(300, 'SIGTERM');
    const r = await t.wait();
    expect(r.exitCode).toBe(137);
    expect(r.signal).toBe('SIGKILL');
  });

  it('a task that honours SIGTERM ends with 143', async () => {
    const t = await run(driver, config({ command: 'sleep', args: ['30'] }));
    await t.stop(5000);
    expect(await t.wait()).toMatchObject({ exitCode: 143, signal: 'SIGTERM' });
  });

  it('a stop right after start() reaches the task with SIGTERM, never needing SIGKILL (30 at once)', { timeout: 60_000 }, async () => {
    // the task honours SIGTERM: it notes it and exits 0 (or dies of it, 143, if it comes before its trap is set)
    const script = 'trap "echo got-term > term; exit 0" TERM; while :; do sleep 0.05; done';
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 30 }, async () => {
        const c = config({ command: 'sh', args: ['-c', script] });
        const t = await run(driver, c);
        // a generous kill timeout: a SIGTERM the wrapper swallowed would show as a SIGKILL 8 s later
        await t.stop(8000, 'SIGTERM');
        const r = await t.wait();
        let marker = '';
        try {
          marker = readFileSync(join(c.taskDir, 'term'), 'utf8');
        } catch {
          // died of the signal before its trap was set
        }
        return { exitCode: r.exitCode, signal: r.signal, marker };
      }),
    );
    const endedByTerm = (r: (typeof results)[number]) => (r.exitCode === 0 && r.marker === 'got-term\n') || (r.exitCode === 143 && r.signal === 'SIGTERM');
    expect(results.filter((r) => !endedByTerm(r))).toEqual([]);
    expect(Date.now() - started).toBeLessThan(8000);
  });

  it('re-attaches from a new driver instance and sees the exit', async () => {
    const c = config({ command: 'sh', args: ['-c', 'read x < /dev/null; sleep 0.6; echo done; exit 7'] });
    const t = await run(driver, c);
    const again = await new ExecDriver({ launcher }).attach(t.handle, c);
    expect(again).toBeDefined();
    // a second start of the same task is the same process, not a new one
    const dup = await driver.start(c);
    expect(dup.handle.id).toBe(t.handle.id);
    const r = await again!.wait();
    expect(r.exitCode).toBe(7);
    expect(text(await collect(again!.logs()), 'stdout')).toBe('done\n');
    // gone for good but its exit status is still there
    const late = await new ExecDriver().attach(t.handle, c);
    expect((await late!.wait()).exitCode).toBe(7);
    rmSync(join(c.taskDir, 'exit_code'));
    expect(await new ExecDriver().attach(t.handle, c)).toBeUndefined();
  });

  it('a run that ended before its handle was saved is handed back by the next start, not run again', async () => {
    // the agent died between start() and saving the handle; the task ended while no agent was there
    const c = config({ command: 'sh', args: ['-c', 'echo run >> runs; exit 5'] });
    const t = await run(driver, c);
    expect((await t.wait()).exitCode).toBe(5);
    const again = await new ExecDriver({ launcher }).start(c);
    tasks.push(again);
    expect(again.handle.id).toBe(t.handle.id);
    expect((await again.wait()).exitCode).toBe(5);
    expect(readFileSync(join(c.taskDir, 'runs'), 'utf8')).toBe('run\n');
  });

  it('a run SIGKILLed with its wrapper before its handle was saved is handed back as killed (137)', async () => {
    const c = config({ command: 'sh', args: ['-c', 'echo run >> runs; sleep 30'] });
    const t = await run(driver, c);
    await waitFor('the task to run', () => existsSync(join(c.taskDir, 'runs')));
    process.kill(-Number((t.handle.data as { pgid: number }).pgid), 'SIGKILL');
    expect((await t.wait()).exitCode).toBe(137);
    const again = await new ExecDriver({ launcher }).start(c);
    tasks.push(again);
    expect(again.handle.id).toBe(t.handle.id);
    expect((await again.wait()).exitCode).toBe(137);
    expect(readFileSync(join(c.taskDir, 'runs'), 'utf8')).toBe('run\n');
  });

  it('a wrapper that died before it ran the command (its handle never saved) is started afresh', async () => {
    const c = config({ command: 'sh', args: ['-c', 'echo run >> runs; exit 0'] });
    const t = await run(driver, c);
    await t.wait();
    // as the wrapper leaves it when it dies before the command (a SIGPIPE from a launcher gone with the agent)
    writeFileSync(join(c.taskDir, 'exit_code'), '');
    rmSync(join(c.taskDir, 'runs'));
    const fresh = await run(new ExecDriver({ launcher }), c);
    expect(fresh.handle.id).not.toBe(t.handle.id);
    expect((await fresh.wait()).exitCode).toBe(0);
    expect(readFileSync(join(c.taskDir, 'runs'), 'utf8')).toBe('run\n');
  });

  it('a run its re-attach found gone for good is started afresh by the next start', async () => {
    const c = config({ command: 'sh', args: ['-c', 'echo run >> runs; exit 0'] });
    const t = await run(driver, c);
    await t.wait();
    rmSync(join(c.taskDir, 'exit_code'));
    expect(await new ExecDriver().attach(t.handle, c)).toBeUndefined();
    const fresh = await run(new ExecDriver({ launcher }), c);
    expect(fresh.handle.id).not.toBe(t.handle.id);
    expect((await fresh.wait()).exitCode).toBe(0);
    expect(readFileSync(join(c.taskDir, 'runs'), 'utf8')).toBe('run\nrun\n');
  });

  it('a task that ended before a re-attach is timed by its exit, not by the attach', async () => {
    const c = config({ command: 'sh', args: ['-c', 'sleep 0.3; exit 3'] });
    const t = await run(driver, c);
    const r = await t.wait();
    const seen = Date.now();
    expect(r.exitCode).toBe(3);
    expect(Math.abs(Date.parse(r.finishedAt!) - seen)).toBeLessThan(500);
    // the agent was down meanwhile: a new one attaches 1.5 s after the exit
    await new Promise((res) => setTimeout(res, 1500));
    const attachedAt = Date.now();
    const again = await new ExecDriver({ launcher }).attach(t.handle, c);
    const late = await again!.wait();
    expect(late.exitCode).toBe(3);
    const finished = Date.parse(late.finishedAt!);
    expect(attachedAt - finished).toBeGreaterThan(1000);
    expect(Math.abs(finished - Date.parse(r.finishedAt!))).toBeLessThan(50);
  });

  it('works without cgroups when the hierarchy is missing', async () => {
    const d = new ExecDriver({ launcher, cgroupRoot: join(tmpdir(), `no-cgroups-${randomUUID()}`, 'x') });
    const fp = await d.fingerprint();
    expect(fp.healthy).toBe(true);
    expect(fp.attributes['exec.cgroups']).toBe('none');
    expect(fp.detail).toMatch(/no cgroups: limits not enforced/);
    const t = await run(d, config({ command: 'sh', args: ['-c', 'echo ok'] }));
    expect((await t.wait()).exitCode).toBe(0);
  });
});

describe.skipIf(!cgroupsUsable).each(launchers)('ExecDriver with cgroups (%s launcher)', (launcher) => {
  const driver = new ExecDriver({ launcher });

  it('fingerprints the cgroup version', async () => {
    expect((await driver.fingerprint()).attributes['exec.cgroups']).toBe(cgroups.version);
  });

  it('writes the limits and lists the running task', async () => {
    const c = config({ command: 'sleep', args: ['30'], resources: { cpu: 250, memory: 48 * 1024 * 1024, disk: 0 } });
    const t = await run(driver, c);
    const cg = (t.handle.data as { cgroup: { memory: string; cpu?: string } }).cgroup;
    // the cpu request is a weight: no cap without a cpu limit
    if (cgroups.version === 'v2') {
      expect(readFileSync(join(cg.memory, 'memory.max'), 'utf8').trim()).toBe(String(48 * 1024 * 1024));
      if (existsSync(join(cg.memory, 'cpu.weight'))) {
        expect(readFileSync(join(cg.memory, 'cpu.weight'), 'utf8').trim()).toBe(String(cpuWeight(256)));
        expect(readFileSync(join(cg.memory, 'cpu.max'), 'utf8').trim()).toBe('max 100000');
      }
    } else {
      expect(readFileSync(join(cg.memory, 'memory.limit_in_bytes'), 'utf8').trim()).toBe(String(48 * 1024 * 1024));
      if (cg.cpu) {
        expect(readFileSync(join(cg.cpu, 'cpu.shares'), 'utf8').trim()).toBe('256');
        expect(readFileSync(join(cg.cpu, 'cpu.cfs_quota_us'), 'utf8').trim()).toBe('-1');
      }
    }
    expect(Cgroups.pids(t.handle.data.cgroup as never)).toContain(Number(t.handle.id));

    const listed = await new ExecDriver().list(nodeId);
    const mine = listed.find((l) => l.allocId === c.allocId);
    expect(mine).toMatchObject({ taskName: 'main', running: true, handle: { id: t.handle.id } });

    const u = await t.usage();
    expect(u?.memory).toBeGreaterThan(0);
    await t.stop(2000);
    await t.destroy();
    expect(await new ExecDriver().list(nodeId)).not.toContainEqual(expect.objectContaining({ allocId: c.allocId }));
  });

  it('reports an OOM kill with the peak memory', async () => {
    const t = await run(
      driver,
      config({ command: 'dd', args: ['if=/dev/zero', 'of=/dev/null', 'bs=256M', 'count=1'], resources: { cpu: 500, memory: 32 * 1024 * 1024, disk: 0 } }),
    );
    const r = await t.wait();
    expect(r.oomKilled).toBe(true);
    expect(r.exitCode).toBe(137);
    expect(r.peakMemory).toBeGreaterThan(16 * 1024 * 1024);
  });

  it('reports the cpu time at exit, counted by the cgroup', async () => {
    const t = await run(
      driver,
      config({ command: 'sh', args: ['-c', 'i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done'], resources: { cpu: 1000, memory: 32 * 1024 * 1024, disk: 0 } }),
    );
    expect((await t.wait()).cpuNanos).toBeGreaterThan(0);
  });

  it.skipIf(!cgroups.cpuControlled)('a 100m cpu request is a weight, not a cap: a busy loop gets far more of an idle core; a cpu limit caps it', async () => {
    /** cpu cores the task used over 1.5 s, read from its cgroup */
    const coresUsed = async (resources: TaskConfig['resources']): Promise<number> => {
      const t = await run(driver, config({ command: 'sh', args: ['-c', 'while :; do :; done'], resources }));
      try {
        // past the start, then over a window of its own
        await sleep(200);
        const a = (await t.usage())!.cpuNanos;
        const t0 = performance.now();
        await sleep(1500);
        const b = (await t.usage())!.cpuNanos;
        return (b - a) / 1e6 / (performance.now() - t0);
      } finally {
        await t.stop(1000, 'SIGKILL');
        await t.destroy();
      }
    };
    const free = await coresUsed({ cpu: 100, memory: 32 * 1024 * 1024, disk: 0 });
    const capped = await coresUsed({ cpu: 100, cpuLimit: 100, memory: 32 * 1024 * 1024, disk: 0 });
    console.log(`[cpu weight] a 100m busy loop: ${free.toFixed(2)} cores uncapped, ${capped.toFixed(2)} with a 100m limit`);
    // on an idle core the loop takes all of it; even beside other tests it gets well over its 0.1
    expect(free, `uncapped: ${free.toFixed(2)} cores, capped: ${capped.toFixed(2)}`).toBeGreaterThan(0.2);
    expect(capped, `uncapped: ${free.toFixed(2)} cores, capped: ${capped.toFixed(2)}`).toBeLessThan(0.13);
  });

  it('a clean exit is not an OOM kill', async () => {
    const t = await run(driver, config({ command: 'sh', args: ['-c', 'exit 0'], resources: { cpu: 100, memory: 32 * 1024 * 1024, disk: 0 } }));
    expect((await t.wait()).oomKilled).toBe(false);
  });

  it('a restart in place does not inherit the OOM count of a group left over from the earlier run', async () => {
    const resources = { cpu: 500, memory: 32 * 1024 * 1024, disk: 0 };
    const first = config({ command: 'dd', args: ['if=/dev/zero', 'of=/dev/null', 'bs=256M', 'count=1'], resources });
    expect((await (await run(driver, first)).wait()).oomKilled).toBe(true);
    // destroy() cut short after its first step (the handle file): the empty group stays, as after
    // an agent that died while cleaning up
    rmSync(join(first.taskDir, 'handle.json'));
    const again = { ...first, command: 'sh', args: ['-c', 'exit 0'] };
    const r = await (await run(driver, again)).wait();
    expect(r).toMatchObject({ exitCode: 0, oomKilled: false });
  });
});

describe.skipIf(!hasPerl)('ExecDriver when its perl launcher dies', () => {
  const launcherOf = (d: ExecDriver) => (d as unknown as { launcherImpl: { kind: string; proc?: { pid: number } } }).launcherImpl;

  it('still reports the exit of tasks it started and starts new ones through a new launcher', async () => {
    const driver = new ExecDriver({ launcher: 'perl' });
    const before = await run(driver, config({ command: 'sh', args: ['-c', 'sleep 0.5; exit 4'] }));
    const perlPid = launcherOf(driver).proc!.pid;
    process.kill(perlPid, 'SIGKILL');
    // the task lives on (its own session) and its exit is found by polling
    expect((await before.wait()).exitCode).toBe(4);
    const after = await run(driver, config({ command: 'sh', args: ['-c', 'exit 5'] }));
    expect((await after.wait()).exitCode).toBe(5);
    expect(launcherOf(driver).kind).toBe('perl');
    expect(launcherOf(driver).proc!.pid).not.toBe(perlPid);
    driver.close();
  });

  it('falls back to Node when perl cannot run at all', async () => {
    const driver = new ExecDriver({ launcher: 'perl' });
    (driver as unknown as { launcherImpl: unknown }).launcherImpl = new PerlLauncher(join(tmpdir(), 'no-perl-here'));
    const t = await run(driver, config({ command: 'sh', args: ['-c', 'exit 6'] }));
    expect((await t.wait()).exitCode).toBe(6);
    expect(launcherOf(driver).kind).toBe('node');
  });
});

describe('ExecDriver exec() and address() for health checks', () => {
  const driver = new ExecDriver();

  it('answers loopback as the address of a host process', async () => {
    const t = await run(driver, config({ command: 'sleep', args: ['30'] }));
    expect(await t.address!()).toBe('127.0.0.1');
    await t.stop(1000);
  });

  it('runs a command beside the task with its env and cwd, and gives exit code and output', async () => {
    const c = config({ command: 'sleep', args: ['30'], env: { BATON_CHECK_X: 'from the task' } });
    const t = await run(driver, c);
    const ok = await t.exec!('sh', ['-c', 'echo "x=$BATON_CHECK_X"; pwd; echo oops >&2'], 5000);
    expect(ok.exitCode).toBe(0);
    expect(ok.output).toContain('x=from the task\n');
    expect(ok.output).toContain(`${c.taskDir}\n`);
    expect(ok.output).toContain('oops\n');
    expect(await t.exec!('sh', ['-c', 'exit 7'], 5000)).toEqual({ exitCode: 7, output: '' });
    const killed = await t.exec!('sh', ['-c', 'kill -KILL $$'], 5000);
    expect(killed.exitCode).toBe(137);
    await t.stop(1000);
  });

  it('kills a command that outlives its timeout, with what it started', async () => {
    const c = config({ command: 'sleep', args: ['30'] });
    const t = await run(driver, c);
    const marker = join(c.taskDir, 'child.pid');
    await expect(t.exec!('sh', ['-c', `sleep 30 & echo $! > ${marker}; wait`], 300)).rejects.toThrow(/sh timed out after 300 ms/);
    const child = Number(readFileSync(marker, 'utf8').trim());
    // the group was SIGKILLed: the grandchild is gone (or a zombie waiting for init to reap it)
    let alive = true;
    for (let i = 0; i < 50 && alive; i++) {
      try {
        alive = !/^\S+ \(.*\) [ZX]/.test(readFileSync(`/proc/${child}/stat`, 'utf8'));
      } catch {
        alive = false;
      }
      if (alive) await new Promise((r) => setTimeout(r, 20));
    }
    expect(alive).toBe(false);
    // the task itself is left alone
    expect(await t.address!()).toBe('127.0.0.1');
    const again = await t.exec!('true', [], 1000);
    expect(again.exitCode).toBe(0);
    await t.stop(1000);
  });

  it('rejects a command that is not there', async () => {
    const t = await run(driver, config({ command: 'sleep', args: ['30'] }));
    await expect(t.exec!('no-such-check-baton', [], 1000)).rejects.toThrow(/command "no-such-check-baton" not found/);
    await t.stop(1000);
  });

  it('keeps the env after a re-attach from a new driver instance', async () => {
    const c = config({ command: 'sleep', args: ['30'], env: { BATON_CHECK_Y: 'kept' } });
    const t = await run(driver, c);
    const again = await new ExecDriver().attach(t.handle, c);
    const r = await again!.exec!('sh', ['-c', 'echo $BATON_CHECK_Y'], 5000);
    expect(r).toEqual({ exitCode: 0, output: 'kept\n' });
    await t.stop(1000);
  });
});

describe.skipIf(!cgroupsUsable)('ExecDriver exec() with cgroups', () => {
  it('runs the check inside the task cgroup', async () => {
    const t = await run(new ExecDriver(), config({ command: 'sleep', args: ['30'] }));
    const cg = (t.handle.data as { cgroup: { memory: string } }).cgroup;
    const r = await t.exec!('cat', ['/proc/self/cgroup'], 5000);
    expect(r.exitCode).toBe(0);
    // the relative path of the task's group (v2: 0::/baton/..., v1: the memory line)
    const rel = cg.memory.split('/baton/')[1];
    expect(r.output).toContain(`/baton/${rel}`);
    await t.stop(1000);
  });
});

describe.skipIf(process.getuid?.() !== 0)('ExecDriver task user (agent as root)', () => {
  const out = async (t: RunningTask): Promise<string> => {
    await t.wait();
    let s = '';
    for await (const r of t.logs()) if (r.stream === 'stdout') s += r.data.toString();
    return s;
  };

  it("runs a task as nobody by default, with only nobody's group, in a task dir it owns", async () => {
    const driver = new ExecDriver();
    const c = config({ command: 'sh', args: ['-c', 'id -u; id -G; touch mine && echo wrote; touch /etc/baton-nope 2>/dev/null || echo denied'] });
    const t = await run(driver, c);
    const nobody = resolveTaskUser('nobody');
    expect(await out(t)).toBe(`${nobody.uid}\n${nobody.gid}\nwrote\ndenied\n`);
    driver.close();
  });

  it('refuses root unless the agent allows it, and says how', async () => {
    await expect(new ExecDriver().start(config({ command: 'id', user: 'root' }))).rejects.toThrow(
      /run as root \("root"\), which this agent does not allow \(start it with --allow-root\)/,
    );
    const allowed = new ExecDriver({ allowRoot: true });
    expect(await out(await run(allowed, config({ command: 'id', args: ['-u'], user: 'root' })))).toBe('0\n');
    expect((await allowed.fingerprint()).attributes['driver.exec.allow_root']).toBe('true');
    expect((await new ExecDriver().fingerprint()).attributes['driver.exec.allow_root']).toBe('false');
    allowed.close();
  });

  it('runs a command check as the task user too', async () => {
    const driver = new ExecDriver({ taskUser: '4242' });
    const t = await run(driver, config({ command: 'sleep', args: ['5'] }));
    const r = await t.exec!('id', ['-u'], 5000);
    expect(r.output).toBe('4242\n');
    await t.stop(1000);
    await t.destroy();
    driver.close();
  });
});

import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckStatus, HealthCheckSpec } from '../api/types.js';
import { HealthChecker, httpProbe, runProbe, tcpProbe } from './health-checks.js';
import type { CheckResult, TaskHealth } from './health-state.js';

function check(p: Partial<HealthCheckSpec> = {}): HealthCheckSpec {
  return { name: 'web', type: 'http', port: 1, path: '/', intervalMs: 2, timeoutMs: 1000, retries: 2, startPeriodMs: 0, restartOnUnhealthy: true, ...p };
}

async function until(what: string, fn: () => boolean): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (fn()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`never happened: ${what}`);
}

/** a port nothing listens on: bound, then closed */
async function closedPort(): Promise<number> {
  const srv = createTcpServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('probes', () => {
  let http: Server;
  let port = 0;
  beforeAll(async () => {
    http = createHttpServer((req, res) => {
      if (req.url === '/ok') return res.end('all good\nsecond line');
      if (req.url === '/teapot') {
        res.statusCode = 418;
        return res.end('short and stout');
      }
      res.statusCode = 503;
      res.end('down for maintenance');
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    port = (http.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((r) => http.close(r)));

  it('http passes on any 2xx when no status is expected, and shows the first body line', async () => {
    expect(await httpProbe('127.0.0.1', port, '/ok', undefined, 1000)).toEqual({ ok: true, output: 'HTTP 200: all good' });
    expect(await httpProbe('127.0.0.1', port, '/down', undefined, 1000)).toEqual({ ok: false, output: 'HTTP 503 (expected 2xx): down for maintenance' });
  });

  it('http passes only on the expected status when one is given', async () => {
    expect((await httpProbe('127.0.0.1', port, '/teapot', 418, 1000)).ok).toBe(true);
    const r = await httpProbe('127.0.0.1', port, '/ok', 204, 1000);
    expect(r).toEqual({ ok: false, output: 'HTTP 200 (expected 204): all good' });
  });

  it('http and tcp fail on a closed port with the reason', async () => {
    const closed = await closedPort();
    const h = await httpProbe('127.0.0.1', closed, '/', undefined, 1000);
    expect(h.ok).toBe(false);
    expect(h.output).toContain(`GET http://127.0.0.1:${closed}/: connect ECONNREFUSED`);
    const t = await tcpProbe('127.0.0.1', closed, 1000);
    expect(t.ok).toBe(false);
    expect(t.output).toContain('ECONNREFUSED');
  });

  it('tcp passes when something accepts', async () => {
    expect(await tcpProbe('127.0.0.1', port, 1000)).toEqual({ ok: true, output: `connected to 127.0.0.1:${port}` });
  });

  it('http fails when the server does not answer in time', async () => {
    const silent = createTcpServer(() => {}); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const p = (silent.address() as AddressInfo).port;
    try {
      expect(await httpProbe('127.0.0.1', p, '/', undefined, 50)).toEqual({ ok: false, output: `GET http://127.0.0.1:${p}/: no answer within 50 ms` });
    } finally {
      silent.close();
    }
  });

  it('runProbe asks the task for its address and runs commands through it', async () => {
    const r = await runProbe(check({ port, path: '/ok' }), { address: async () => '127.0.0.1' });
    expect(r.ok).toBe(true);
    expect(await runProbe(check({ port }), { address: async () => undefined })).toEqual({ ok: false, output: 'the task has no network address yet' });

    const calls: unknown[] = [];
    const task = {
      exec: async (command: string, args: string[], timeoutMs: number) => {
        calls.push([command, args, timeoutMs]);
        return { exitCode: args[0] === 'good' ? 0 : 2, output: args[0] === 'good' ? 'fine\n' : '' };
      },
    };
    expect(await runProbe(check({ type: 'command', command: '/bin/check', args: ['good'], timeoutMs: 700 }), task)).toEqual({ ok: true, output: 'fine' });
    expect(await runProbe(check({ type: 'command', command: '/bin/check', args: ['bad'] }), task)).toEqual({ ok: false, output: 'exit code 2' });
    expect(calls[0]).toEqual(['/bin/check', ['good'], 700]);
    expect(await runProbe(check({ type: 'command', command: 'x' }), {})).toEqual({ ok: false, output: 'this driver cannot run command checks' });
  });
});

describe('HealthChecker', () => {
  function harness(checks: HealthCheckSpec[], results: Record<string, CheckResult[]>, initial?: Record<string, CheckStatus>) {
    const changes: Array<{ checks: Record<string, CheckStatus>; health: TaskHealth }> = [];
    const failing: string[] = [];
    const probes: string[] = [];
    const checker = new HealthChecker({
      checks,
      task: {},
      startedAt: Date.now(),
      initial,
      // each check answers its scripted results, then keeps answering the last one
      probe: async (c) => {
        probes.push(c.name);
        const list = results[c.name];
        return list.length > 1 ? list.shift()! : list[0];
      },
      onChange: (s, health) => changes.push({ checks: structuredClone(s), health }),
      onFailing: (c, status) => failing.push(`${c.name}: ${status.output}`),
    });
    return { checker, changes, failing, probes };
  }

  it('reports starting -> healthy once, not every pass', async () => {
    const h = harness([check({ name: 'a' }), check({ name: 'b' })], { a: [{ ok: true, output: 'a ok' }], b: [{ ok: true, output: 'b ok' }] });
    expect(h.checker.health).toBe('starting');
    h.checker.start();
    await until('many probes', () => h.probes.length >= 20);
    await h.checker.stop();
    // a passing, then b passing (or the other way round): two changes, the last one healthy
    expect(h.changes.map((c) => c.health)).toEqual(['starting', 'healthy']);
    expect(h.changes[1].checks.a.status).toBe('passing');
    expect(h.failing).toEqual([]);
  });

  it('tells when a check turns failing, once per turn', async () => {
    const ok = { ok: true, output: 'up' };
    const down = { ok: false, output: 'refused' };
    const h = harness([check({ name: 'web', retries: 2 })], { web: [ok, down, down, down, down] });
    h.checker.start();
    await until('failing', () => h.failing.length > 0 && h.probes.length >= 8);
    await h.checker.stop();
    expect(h.failing).toEqual(['web: refused']);
    expect(h.changes.map((c) => c.health)).toEqual(['healthy', 'unhealthy']);
    expect(h.checker.statuses.web).toMatchObject({ status: 'failing', output: 'refused' });
  });

  it('turns a probe that throws into a failure with its message', async () => {
    const checker = new HealthChecker({
      checks: [check({ retries: 1 })],
      task: {},
      startedAt: Date.now(),
      probe: async () => {
        throw new Error('boom');
      },
      onChange: () => {},
      onFailing: () => {},
    });
    checker.start();
    await until('failing', () => checker.health === 'unhealthy');
    await checker.stop();
    expect(checker.statuses.web.output).toBe('boom');
  });

  it('goes on from the statuses it is given (a re-attached task)', () => {
    const h = harness(
      [check({ name: 'web' })],
      { web: [{ ok: true, output: '' }] },
      {
        web: { status: 'passing', output: 'HTTP 200', consecutiveFailures: 0 },
        gone: { status: 'failing', output: 'old check', consecutiveFailures: 3 },
      },
    );
    expect(h.checker.health).toBe('healthy');
    expect(Object.keys(h.checker.statuses)).toEqual(['web']);
  });

  it('takes no result after stop', async () => {
    let release: (r: CheckResult) => void = () => {};
    let changes = 0;
    const checker = new HealthChecker({
      checks: [check({ retries: 1 })],
      task: {},
      startedAt: Date.now(),
      probe: () => new Promise<CheckResult>((r) => (release = r)),
      onChange: () => changes++,
      onFailing: () => changes++,
    });
    checker.start();
    await until('a probe in flight', () => release.length > 0 || changes > 0);
    const stopped = checker.stop();
    release({ ok: false, output: 'late' });
    await stopped;
    expect(changes).toBe(0);
    expect(checker.health).toBe('starting');
  });
});

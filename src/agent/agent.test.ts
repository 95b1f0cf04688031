import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentAlloc, AllocStatusUpdate, JobSpec, LogChunk } from '../api/types.js';
import { startAgent, type RunningAgent } from './agent.js';
import { FakeDriver } from './fake-driver.js';
import { jobSpec } from './task-runner.fixture.js';

const logger = pino({ level: 'silent' });

/** Just enough of the agent API of docs/api.md, in memory. */
class FakeServer {
  index = 1;
  allocs: AgentAlloc[] = [];
  secrets = new Map<string, string>();
  registrations = 0;
  updates: AllocStatusUpdate[] = [];
  logs: LogChunk[] = [];
  readonly joinToken = 'join-secret';
  /** answers every agent call but registration with 503, like a server that cannot be reached */
  unreachable = false;
  private waiters: Array<() => void> = [];
  /** the requests that came in at `url` (a front end counts its own) */
  hits: string[] = [];
  private server: Server = createServer((req, res) => {
    this.hits.push(`${req.method} ${req.url?.split('?')[0]}`);
    void this.handle(req, res);
  });
  url = '';

  /** another server of the same cluster: its own URL, this one's state (one database behind both) */
  async frontEnd(): Promise<{ url: string; hits: string[]; close(): Promise<void> }> {
    const hits: string[] = [];
    const fe = createServer((req, res) => {
      hits.push(`${req.method} ${req.url?.split('?')[0]}`);
      void this.handle(req, res);
    });
    await new Promise<void>((r) => fe.listen(0, '127.0.0.1', r));
    return {
      url: `http://127.0.0.1:${(fe.address() as AddressInfo).port}`,
      hits,
      close: async () => {
        fe.closeAllConnections();
        await new Promise((r) => fe.close(r));
      },
    };
  }

  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const w of this.waiters.splice(0)) w();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  bump(): void {
    this.index++;
    for (const w of this.waiters.splice(0)) w();
  }

  setAllocs(allocs: AgentAlloc[]): void {
    this.allocs = allocs;
    this.bump();
  }

  latest(allocId: string): AllocStatusUpdate | undefined {
    return this.updates.filter((u) => u.allocId === allocId).at(-1);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = '';
    for await (const c of req) body += c;
    const json = body ? JSON.parse(body) : undefined;
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    const url = new URL(req.url!, this.url);
    const send = (status: number, v: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(v));
    };
    if (url.pathname === '/v1/agent/register') {
      if (token !== this.joinToken) return send(401, { error: 'bad join token' });
      this.registrations++;
      const nodeId = `node-${this.registrations}`;
      this.secrets.set(`secret-${nodeId}`, nodeId);
      return send(200, { nodeId, secret: `secret-${nodeId}`, heartbeatTtlMs: 3000 });
    }
    if (this.unreachable) return send(503, { error: 'unreachable' });
    if (!this.secrets.has(token)) return send(401, { error: 'unknown node secret' });
    const nodeId = this.secrets.get(token)!;
    switch (`${req.method} ${url.pathname}`) {
      case 'PUT /v1/agent/node':
      case 'POST /v1/agent/heartbeat':
        return send(200, { heartbeatTtlMs: 3000, status: 'ready' });
      case 'GET /v1/agent/allocs': {
        const index = Number(url.searchParams.get('index'));
        if (index >= this.index) {
          await new Promise<void>((r) => {
            this.waiters.push(r);
            setTimeout(r, Math.min(Number(url.searchParams.get('wait')), 500));
          });
        }
        return send(200, { index: this.index, allocs: this.allocs.filter((a) => a.alloc.nodeId === nodeId) });
      }
      case 'POST /v1/agent/allocs/status':
        for (const u of json.updates as AllocStatusUpdate[]) {
          this.updates.push(u);
          const a = this.allocs.find((x) => x.alloc.id === u.allocId);
          if (a) a.alloc = { ...a.alloc, clientStatus: u.clientStatus };
        }
        this.bump();
        return send(200, { index: this.index });
      case 'POST /v1/agent/logs':
        this.logs.push(...(json.chunks as LogChunk[]));
        return send(200, { accepted: json.chunks.length });
    }
    send(404, { error: 'no such route' });
  }
}

function job(type: JobSpec['type']): JobSpec {
  return jobSpec({
    type,
    tasks: [
      {
        name: 'main',
        driver: 'exec',
        command: '/bin/sleep',
        args: ['1'],
        env: {},
        resources: { cpu: 100, memory: 1 << 25, disk: 0 },
        killSignal: 'SIGTERM',
        killTimeoutMs: 1000,
      },
    ],
  });
}

function alloc(id: string, nodeId: string, type: JobSpec['type'], desiredStatus: 'run' | 'stop' = 'run', disconnect?: JobSpec['disconnect']): AgentAlloc {
  return {
    alloc: {
      id,
      namespace: 'default',
      jobId: 'j',
      jobVersion: 1,
      name: 'j[0]',
      index: 0,
      nodeId,
      desiredStatus,
      clientStatus: 'pending',
    } as AgentAlloc['alloc'],
    job: { ...job(type), ...(disconnect ? { disconnect } : {}) },
  };
}

async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>): Promise<T> {
  for (let i = 0; i < 1000; i++) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`never happened: ${what}`);
}

let server: FakeServer;
let dataDir = '';
let driver: FakeDriver;
const agents: RunningAgent[] = [];

async function start(joinToken?: string, serverUrl: string | string[] = server.url): Promise<RunningAgent> {
  const a = await startAgent({ serverUrl, joinToken, dataDir, name: 't', cpu: 2000, memory: 1 << 30, logger, driverList: [driver] });
  agents.push(a);
  return a;
}

beforeEach(async () => {
  server = new FakeServer();
  await server.listen();
  dataDir = await mkdtemp(join(tmpdir(), 'baton-agent-'));
  driver = new FakeDriver('exec');
});
afterEach(async () => {
  for (const a of agents.splice(0)) await a.close();
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('startAgent', () => {
  it('says that the join token is needed when the node never registered', async () => {
    await expect(start()).rejects.toThrow(/join token.*--token/);
  });

  it('registers once, keeps the secret in node.json (0600), and uses it on the next start', async () => {
    const a = await start(server.joinToken);
    expect(a.nodeId).toBe('node-1');
    const path = join(dataDir, 'node.json');
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ nodeId: 'node-1', secret: 'secret-node-1', serverUrl: server.url });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    await a.close();
    const b = await start();
    expect(b.nodeId).toBe('node-1');
    expect(server.registrations).toBe(1);
  });

  it('registers again when the server forgot the node and a join token is given', async () => {
    await (await start(server.joinToken)).close();
    server.secrets.clear();
    const b = await start(server.joinToken);
    expect(b.nodeId).toBe('node-2');
  });

  it('runs an alloc, ships its logs, reports it complete', async () => {
    const a = await start(server.joinToken);
    server.setAllocs([alloc('a1', a.nodeId, 'batch')]);
    const t = await until('task started', () => driver.starts[0]);
    t.write('stdout', 'hi\n');
    t.exit({ exitCode: 0 });
    await until('complete', () => server.latest('a1')?.clientStatus === 'complete');
    expect(server.logs.map((l) => l.data).join('')).toBe('hi\n');
    await until('destroyed', () => t.destroyed);
  });

  it('re-attaches after a restart instead of starting a duplicate, then stops on request', async () => {
    const a = await start(server.joinToken);
    server.setAllocs([alloc('s1', a.nodeId, 'service')]);
    const t = await until('running', () => server.latest('s1')?.clientStatus === 'running' && driver.starts[0]);
    await a.close(); // the task keeps running

    const b = await start();
    await new Promise((r) => setTimeout(r, 200));
    expect(driver.starts).toHaveLength(1);
    expect(t.exited).toBeUndefined();

    server.setAllocs([{ ...server.allocs[0], alloc: { ...server.allocs[0].alloc, desiredStatus: 'stop' } }]);
    await until('stopped', () => server.latest('s1')?.clientStatus === 'complete');
    expect(server.latest('s1')!.clientDescription).toBe('stopped by the server');
    expect(t.stops).toHaveLength(1);
    expect(b.nodeId).toBe(a.nodeId);
  });

  it('stops a re-attached task whose alloc the server no longer lists', async () => {
    const a = await start(server.joinToken);
    server.setAllocs([alloc('s1', a.nodeId, 'service')]);
    const t = await until('running', () => server.latest('s1')?.clientStatus === 'running' && driver.starts[0]);
    await a.close();
    server.setAllocs([]); // replaced elsewhere while this node was down
    await start();
    await until('stopped', () => t.exited);
    await until('destroyed', () => t.destroyed);
    await until('alloc dir removed', () =>
      stat(join(dataDir, 'allocs', 's1')).then(
        () => false,
        () => true,
      ),
    );
    expect(driver.starts).toHaveLength(1);
  });

  it('adopts a task started before a crash lost its handle, and stops one nobody wants', async () => {
    const a = await start(server.joinToken);
    const nodeId = a.nodeId;
    await a.close();
    // tasks the driver has but no state file knows
    const wanted = await driver.start({
      nodeId,
      allocId: 'w1',
      allocName: 'j[0]',
      allocIndex: 0,
      namespace: 'default',
      jobId: 'j',
      taskName: 'main',
      args: [],
      env: {},
      resources: { cpu: 0, memory: 0, disk: 0 },
      killSignal: 'SIGTERM',
      killTimeoutMs: 1000,
      taskDir: '/tmp',
    });
    const unwanted = await driver.start({
      nodeId,
      allocId: 'u1',
      allocName: 'j[1]',
      allocIndex: 1,
      namespace: 'default',
      jobId: 'j',
      taskName: 'main',
      args: [],
      env: {},
      resources: { cpu: 0, memory: 0, disk: 0 },
      killSignal: 'SIGTERM',
      killTimeoutMs: 1000,
      taskDir: '/tmp',
    });
    server.setAllocs([alloc('w1', nodeId, 'service')]);
    await start();
    await until('unwanted destroyed', () => (unwanted as unknown as { destroyed: boolean }).destroyed);
    await until('adopted and running', () => server.latest('w1')?.clientStatus === 'running');
    expect(driver.starts).toHaveLength(2); // no new start for w1
    expect((wanted as unknown as { exited?: unknown }).exited).toBeUndefined();
    expect(server.latest('w1')!.taskStates.main.events.map((e) => e.type)).toContain('Started');
  });

  it('stops its allocs once the server has not answered for the bound, before the TTL, and reports them lost when it answers again', async () => {
    const a = await start(server.joinToken);
    // TTL 3 s: the bound is 2 s, and the copy must be dead 0.3 s before the server may replace it
    server.setAllocs([alloc('b1', a.nodeId, 'batch'), alloc('keep', a.nodeId, 'service', 'run', { stopAfterMs: null })]);
    const t = await until('running', () => server.latest('b1')?.clientStatus === 'running' && driver.starts.find((s) => s.config.allocId === 'b1'));
    const kept = await until(
      'the other running',
      () => server.latest('keep')?.clientStatus === 'running' && driver.starts.find((s) => s.config.allocId === 'keep'),
    );
    const cut = Date.now();
    server.unreachable = true;
    await until('stopped', () => t.stops.length > 0);
    const after = Date.now() - cut;
    // not on the first missed heartbeat, and with its SIGKILL due before the TTL runs out
    expect(after).toBeGreaterThanOrEqual(1500);
    expect(t.stops[0].timeoutMs).toBeLessThanOrEqual(3000 - 300 - 2000 + 50);
    t.exit({ exitCode: 143, signal: 'SIGTERM' });
    server.unreachable = false;
    await until('reported lost', () => server.latest('b1')?.clientStatus === 'lost');
    expect(server.latest('b1')!.clientDescription).toMatch(/^stopped by its agent: its agent could not reach the server for \d/);
    // a job that chose to run through a partition was left alone
    expect(kept.stops).toHaveLength(0);
    expect(kept.exited).toBeUndefined();
    // and nothing brings the lost one back
    expect(driver.starts.filter((s) => s.config.allocId === 'b1')).toHaveLength(1);
  });
  it('a restarted agent that cannot reach the server keeps the bound and last contact of the agent before it: it stops the re-attached allocs in time and reports them lost', async () => {
    const a = await start(server.joinToken);
    server.setAllocs([alloc('b1', a.nodeId, 'batch')]);
    const t = await until('running', () => server.latest('b1')?.clientStatus === 'running' && driver.starts[0]);
    const readLease = async () => JSON.parse(await readFile(join(dataDir, 'lease.json'), 'utf8'));
    await until('the task in the lease', async () => (await readLease()).tasks.length === 1);
    const cut = Date.now();
    server.unreachable = true;
    await a.close(); // the agent process dies; its task keeps running
    const prior = await readLease();

    // the server is still out: the new agent keeps trying to connect meanwhile
    const starting = startAgent({ serverUrl: server.url, dataDir, name: 't', cpu: 2000, memory: 1 << 30, logger, driverList: [driver] });
    void starting.then(
      (b) => agents.push(b),
      () => undefined,
    );
    await until('a lease of the new agent', async () => (await readLease()).agentStart !== undefined && Date.now() - cut > 500);
    const lease = await readLease();
    // the same last contact and the same tasks: the new agent has not reached the server either
    expect(lease.contactAt).toBe(prior.contactAt);
    expect(lease.tasks.map((x: { allocId: string }) => x.allocId)).toEqual(['b1']);
    expect(lease.bound).toEqual({ ttlMs: 3000, stopAfterMs: 2000 });

    await until('stopped at the bound', () => t.stops.length > 0);
    const after = Date.now() - cut;
    expect(after).toBeGreaterThanOrEqual(1500);
    // counted from the earlier agent's contact: the SIGKILL is due before the server's TTL runs out
    expect(t.stops[0].timeoutMs).toBeLessThanOrEqual(3000 - 300 - 2000 + 50);
    t.exit({ exitCode: 143, signal: 'SIGTERM' });
    server.unreachable = false;
    await starting;
    await until('reported lost', () => server.latest('b1')?.clientStatus === 'lost');
    expect(driver.starts).toHaveLength(1);
  });
});

describe('an agent given several servers', () => {
  it('moves registration, heartbeats, the alloc watch, status reports and logs to the next server when its own stops answering', async () => {
    const first = await server.frontEnd();
    const a = await start(server.joinToken, [first.url, server.url]);
    await until('watching on the first', () => first.hits.includes('GET /v1/agent/allocs'));
    expect(first.hits).toEqual(expect.arrayContaining(['POST /v1/agent/register', 'PUT /v1/agent/node']));
    expect(server.hits).toEqual([]);
    expect(JSON.parse(await readFile(join(dataDir, 'node.json'), 'utf8')).serverUrl).toBe(`${first.url},${server.url}`);

    // the first server goes away, with the watch's blocking query in flight
    await first.close();
    await until('heartbeat on the second', () => server.hits.includes('POST /v1/agent/heartbeat'));
    server.setAllocs([alloc('a1', a.nodeId, 'batch')]);
    const t = await until('task started', () => driver.starts[0]);
    t.write('stdout', 'from the second\n');
    t.exit({ exitCode: 0 });
    await until('complete', () => server.latest('a1')?.clientStatus === 'complete');
    await until('logs shipped', () => server.logs.map((l) => l.data).join('') === 'from the second\n');
    expect(server.hits).toEqual(expect.arrayContaining(['GET /v1/agent/allocs', 'POST /v1/agent/allocs/status', 'POST /v1/agent/logs']));

    // a restart with the first still down connects through the second at once
    await a.close();
    agents.splice(agents.indexOf(a), 1);
    const b = await start(undefined, [first.url, server.url]);
    expect(b.nodeId).toBe(a.nodeId);
    expect(server.registrations).toBe(1);
  });

  it('refuses a list that mixes https:// and plain http:// servers: one cluster, one CA', async () => {
    await expect(start(server.joinToken, ['https://127.0.0.1:1', server.url])).rejects.toThrow(
      /lists https:\/\/ and plain http:\/\/ URLs \(http:\/\/127\.0\.0\.1:\d+\)/,
    );
  });
});

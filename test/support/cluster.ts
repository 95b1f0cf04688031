/**
 * Starts real baton processes (the built CLI in dist/) for end-to-end tests:
 * one server and any number of agents, each in its own temp data dir, all on
 * loopback. Agents are separate OS processes so a test can SIGKILL one like a
 * machine that dies. The server serves HTTPS with its own CA (unless a test
 * asks for --insecure-http); agents join with the token it printed (its CA
 * fingerprint pins the server), and the test's client trusts its ca.pem.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, rmdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readNodeFile } from '../../src/agent/registration.js';
import { BatonClient } from '../../src/client/client.js';
import { Agent as Dispatcher, fetch as undiciFetch } from 'undici';

const CLI = resolve(import.meta.dirname, '../../dist/cli/main.js');

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError instanceof Error ? String(lastError) : JSON.stringify(lastError)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface Proc {
  child: ChildProcess;
  output: () => string;
  /** resolves when the process has exited */
  exited: Promise<number | null>;
}

export function startProc(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, output: () => out, exited };
}

/**
 * The exec driver keeps a parent cgroup per node (a real node keeps its id);
 * test nodes are new every run, so their empty parents are removed here rather
 * than left to pile up on the developer's machine.
 */
async function removeNodeCgroups(dataDir: string): Promise<void> {
  const nf = await readNodeFile(dataDir).catch(() => undefined);
  if (!nf) return;
  for (const h of ['', 'memory', 'cpu', 'cpuacct', 'cpu,cpuacct']) {
    await rmdir(join('/sys/fs/cgroup', h, 'baton', nf.nodeId)).catch(() => undefined);
  }
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** one `baton ...` command as a user types it, run to its end */
export function runCli(args: string[], env: Record<string, string | undefined>, cwd?: string): Promise<CliRun> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => res({ code, stdout, stderr }));
  });
}

export interface AgentOpts {
  name: string;
  cpu?: string;
  memory?: string;
  drivers?: string;
  labels?: string[];
  nodeClass?: string;
  /** more `baton agent` flags, e.g. ['--port-range', '21000-21099'] */
  extra?: string[];
  /** more environment, e.g. BATON_CERT_LIFETIME */
  env?: Record<string, string>;
}

export class TestAgent {
  proc: Proc | undefined;
  constructor(
    readonly cluster: TestCluster,
    readonly opts: AgentOpts,
    readonly dataDir: string,
  ) {}

  start(): void {
    const a = this.opts;
    // the join token in the environment, as the README says, not in argv where `ps` shows it
    const args = ['agent', '--server', this.cluster.url, '--data-dir', this.dataDir, '--name', a.name, '--log-level', 'warn'];
    if (a.cpu) args.push('--cpu', a.cpu);
    if (a.memory) args.push('--memory', a.memory);
    if (a.drivers) args.push('--drivers', a.drivers);
    if (a.nodeClass) args.push('--class', a.nodeClass);
    for (const l of a.labels ?? []) args.push('--label', l);
    args.push(...(a.extra ?? []));
    this.proc = startProc(args, { BATON_JOIN_TOKEN: this.cluster.joinToken, ...a.env });
  }

  /** the node as the server sees it, once registered and ready */
  async ready(): Promise<string> {
    return waitFor(
      `agent ${this.opts.name} to be ready`,
      async () => {
        if (this.proc && this.proc.child.exitCode !== null) {
          throw new Error(`agent ${this.opts.name} exited: ${this.proc.output()}`);
        }
        const nodes = await this.cluster.client.listNodes();
        const n = nodes.find((x) => x.name === this.opts.name && x.status === 'ready');
        return n?.id;
      },
      60_000,
    );
  }

  /** like a machine dying: no goodbye, tasks left as they are */
  async kill(): Promise<void> {
    if (!this.proc || this.proc.child.exitCode !== null) return;
    this.proc.child.kill('SIGKILL');
    await this.proc.exited;
  }

  /** a clean agent shutdown (SIGTERM): tasks keep running */
  async stop(): Promise<void> {
    if (!this.proc || this.proc.child.exitCode !== null) return;
    this.proc.child.kill('SIGTERM');
    await this.proc.exited;
  }
}

export class TestCluster {
  server: Proc | undefined;
  url = '';
  joinToken = '';
  adminToken = '';
  /** the server's ca.pem (path and PEM), empty with insecureHttp */
  caFile = '';
  caPem = '';
  caFingerprint = '';
  dataDir = '';
  client!: BatonClient;
  private dispatcher: Dispatcher | undefined;
  agents: TestAgent[] = [];
  private dirs: string[] = [];

  static async start(opts: { heartbeatTtl?: string; insecureHttp?: boolean; serverArgs?: string[]; env?: Record<string, string> } = {}): Promise<TestCluster> {
    const c = new TestCluster();
    const dir = await c.tempDir('server');
    c.dataDir = dir;
    const port = await freePort();
    const args = ['server', '--data-dir', dir, '--bind', `127.0.0.1:${port}`, '--heartbeat-ttl', opts.heartbeatTtl ?? '3s', '--log-level', 'warn'];
    if (opts.insecureHttp) args.push('--insecure-http');
    c.server = startProc([...args, ...(opts.serverArgs ?? [])], {
      HOME: dir, // keep ~/.config/baton/current.json of the test out of the real home
      ...opts.env,
    });
    const info = await waitFor('server.json', async () => {
      if (c.server!.child.exitCode !== null) throw new Error(`server exited: ${c.server!.output()}`);
      return JSON.parse(await readFile(join(dir, 'server.json'), 'utf8')) as {
        url: string;
        joinToken: string;
        adminToken: string;
        caFile?: string;
        caFingerprint?: string;
      };
    });
    c.url = info.url;
    c.joinToken = info.joinToken;
    c.adminToken = info.adminToken;
    if (info.caFile) {
      c.caFile = info.caFile;
      c.caPem = await readFile(info.caFile, 'utf8');
      c.caFingerprint = info.caFingerprint ?? '';
      c.dispatcher = new Dispatcher({ connect: { ca: c.caPem } });
    }
    c.client = new BatonClient({ baseUrl: c.url, token: c.adminToken, ca: c.caPem || undefined });
    await waitFor('server to answer', () => c.client.status());
    return c;
  }

  /** the certificate the server serves now (a browser pins its key) */
  serverCertPem(): Promise<string> {
    return readFile(join(this.dataDir, 'server.pem'), 'utf8');
  }

  /** what a CLI run against this cluster needs: its address, the admin token and the CA */
  cliEnv(): Record<string, string> {
    return { BATON_ADDR: this.url, BATON_TOKEN: this.adminToken, ...(this.caFile ? { BATON_CA_FILE: this.caFile } : {}) };
  }

  /** fetch that trusts the cluster's CA (a URL relative to the server is resolved against it) */
  fetch(url: string | URL, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Response> {
    return undiciFetch(new URL(url, this.url), { ...init, dispatcher: this.dispatcher }) as unknown as Promise<Response>;
  }

  async tempDir(prefix: string): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), `baton-e2e-${prefix}-`));
    this.dirs.push(d);
    // a scratch dir the tests' tasks share, as they run as nobody; the server's stays 0700 and
    // an agent makes its own data dir 0711
    if (prefix !== 'server') await chmod(d, 0o777);
    return d;
  }

  async addAgent(opts: AgentOpts): Promise<TestAgent> {
    const a = new TestAgent(this, opts, await this.tempDir(`agent-${opts.name}`));
    this.agents.push(a);
    a.start();
    await a.ready();
    return a;
  }

  async stop(): Promise<void> {
    // stop every job first so agents kill their tasks, then the processes
    try {
      const jobs = await this.client.listJobs('*');
      for (const j of jobs) await this.client.stopJob(j.id, j.namespace).catch(() => undefined);
      await waitFor(
        'allocs to stop',
        async () => {
          const allocs = await this.client.listAllocs({});
          return allocs.every((a) => a.clientStatus !== 'running' && a.clientStatus !== 'pending') || undefined;
        },
        20_000,
      ).catch(() => undefined);
    } catch {
      /* the server may be gone already */
    }
    for (const a of this.agents) await a.stop();
    for (const a of this.agents) await removeNodeCgroups(a.dataDir);
    if (this.server && this.server.child.exitCode === null) {
      this.server.child.kill('SIGTERM');
      await this.server.exited;
    }
    await this.dispatcher?.close().catch(() => undefined);
    for (const d of this.dirs) await rm(d, { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * baton's agent: registers the node, re-attaches to the tasks an earlier
 * agent process left running, then keeps the node's allocs in line with what
 * the server says (blocking queries), heartbeats, and reports back.
 * It only ever dials the server.
 */
import { setMaxListeners } from 'node:events';
import { chmod, mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { AgentAlloc, RegisterNodeRequest } from '../api/types.js';
import { TERMINAL_CLIENT_STATUSES } from '../api/types.js';
import { AgentClient } from '../client/agent-client.js';
import type { Driver, TaskConfig, TaskHandle } from '../drivers/driver.js';
import { createDrivers } from '../drivers/index.js';
import type { DockerAllowance } from '../spec/allowances.js';
import { AllocRunner } from './alloc-runner.js';
import { errorMessage, sleep } from './backoff.js';
import type { AgentContext } from './context.js';
import { fingerprintNode, type FingerprintOptions } from './fingerprint.js';
import { heartbeatLoop } from './heartbeat.js';
import { certRenewalLoop } from './cert-renewal.js';
import { buildUsageReport } from './usage-report.js';
import { connect, DEFAULT_TTL_MS, readNodeFile, stopAfterOf, type Session } from './registration.js';
import { monotonicMs, ServerContact } from './contact.js';
import { disconnectGuardLoop } from './disconnect-guard.js';
import { buildLease, takeOverLease, type AgentLease } from './lease.js';
import { LeaseWake, watchdogLoop } from './watchdog-spawn.js';
import { defaultStopAfterMs, type NodeBound } from '../jobs/disconnect.js';
import { StateStore } from './state-file.js';
import { StatusReporter } from './status-reporter.js';
import { watchAllocs } from './watcher.js';

/** what the node declares about itself (FingerprintOptions), and how it reaches the server */
export interface AgentOptions extends FingerprintOptions {
  /** one server, or the servers of one cluster: every call fails over between them (src/client/http.ts) */
  serverUrl: string | readonly string[];
  /** needed only for the first registration */
  joinToken?: string;
  /** only these drivers (default: all that fingerprint healthy) */
  drivers?: string[];
  logger: Logger;
  /** for tests */
  driverList?: Driver[];
  /** exec tasks without `user:` run as this user (default nobody) */
  taskUser?: string;
  /** exec tasks may run as root */
  allowRoot?: boolean;
  /** docker asks the operator allows (--allow) */
  allow?: DockerAllowance[];
  /** host path prefixes docker tasks may bind (--allow-host-path) */
  allowHostPaths?: string[];
  /** the lease was taken over already (takeOverLease, by the CLI as soon as it started): the earlier one */
  priorLease?: { lease: AgentLease | undefined };
}

export interface RunningAgent {
  nodeId: string;
  /** stop the loops, leave the tasks running */
  close(): Promise<void>;
}

interface Orphan {
  driver: Driver;
  allocId: string;
  taskName: string;
  handle: TaskHandle;
}

const CLOSE_GRACE_MS = 5000;

export async function startAgent(opts: AgentOptions): Promise<RunningAgent> {
  const { logger } = opts;
  await mkdir(opts.dataDir, { recursive: true });
  // tasks (other users) pass through to their own dirs below it, but may not list or read it
  await chmod(opts.dataDir, 0o711);
  // first of all: the watchdog must not stop the tasks this agent is about to re-attach to
  const prior = opts.priorLease
    ? opts.priorLease.lease
    : await takeOverLease(opts.dataDir, monotonicMs()).catch((err: unknown) => {
        logger.warn({ err: errorMessage(err) }, 'cannot take over the lease of the earlier agent process');
        return undefined;
      });
  let drivers =
    opts.driverList ??
    createDrivers(opts.drivers, {
      exec: { taskUser: opts.taskUser, allowRoot: opts.allowRoot },
      docker: { allow: opts.allow, hostPaths: opts.allowHostPaths },
    });
  if (opts.drivers && opts.drivers.length > 0) {
    const unknown = opts.drivers.filter((n) => !drivers.some((d) => d.name === n));
    if (unknown.length > 0) logger.warn({ unknown }, 'unknown drivers asked for');
    drivers = drivers.filter((d) => opts.drivers!.includes(d.name));
  }
  const fp = await fingerprintNode(opts, drivers);
  for (const [name, info] of Object.entries(fp.request.drivers)) {
    if (info.healthy) logger.info({ driver: name, detail: info.detail }, 'driver available');
    else logger.warn({ driver: name, detail: info.detail }, 'driver not available');
  }
  if (fp.healthy.length === 0) logger.warn('no healthy driver: this node cannot run tasks');
  for (const d of fp.healthy) {
    try {
      d.offer?.(fp.request.capacity);
    } catch (err) {
      logger.warn({ driver: d.name, err: errorMessage(err) }, 'driver could not take the node capacity');
    }
  }

  const abort = new AbortController();
  // every loop, sleep and runner listens on this one signal: dozens of listeners are expected, not a leak
  setMaxListeners(0, abort.signal);
  const client = new AgentClient(opts.serverUrl, opts.joinToken ?? '');
  let setConnected!: () => void;
  // settled on close too: nothing waits on a connection that will never come
  const connected = new Promise<void>((res) => (setConnected = res));
  abort.signal.addEventListener('abort', () => setConnected(), { once: true });

  // until it reaches the server, the node keeps to the bound and last contact of the agent before it
  const ttlMs = prior?.bound?.ttlMs ?? DEFAULT_TTL_MS;
  const provisional: Session = {
    nodeId: (await readNodeFile(opts.dataDir).catch(() => undefined))?.nodeId ?? '',
    heartbeatTtlMs: ttlMs,
    stopAfterMs: prior?.bound?.stopAfterMs ?? defaultStopAfterMs(ttlMs),
    reachedAt: prior?.contactAt ?? monotonicMs(),
  };
  const ctx: AgentContext = {
    client,
    store: new StateStore(opts.dataDir),
    reporter: new StatusReporter({
      send: async (u) => {
        await connected;
        return client.updateAllocs(u);
      },
      logger,
      signal: abort.signal,
    }),
    drivers: new Map(fp.healthy.map((d) => [d.name, d])),
    logger,
    signal: abort.signal,
    node: { address: fp.request.address ?? '127.0.0.1', volumes: fp.request.volumes ?? {}, ...(opts.address ? { bindAddress: opts.address } : {}) },
    connected,
  };
  logger.info({ address: fp.request.address, volumes: Object.keys(fp.request.volumes ?? {}), portRange: fp.request.portRange }, 'node network');
  const agent = new Agent(ctx, opts, fp.request, provisional, abort, drivers);
  ctx.disconnect = { silentMs: () => agent.contact.silentMs(), bound: () => agent.bound() };
  ctx.taskStarted = () => agent.leaseWake.wake();
  // re-attach and guard before connecting: the server may be down for longer than the tasks may run without it
  await agent.restore();
  agent.guard();
  let session: Session;
  try {
    session = await connect({
      client,
      dataDir: opts.dataDir,
      serverUrl: opts.serverUrl,
      joinToken: opts.joinToken,
      request: fp.request,
      logger,
      signal: abort.signal,
    });
  } catch (err) {
    // the tasks stay; the lease names a process about to exit, so the watchdog keeps the bound
    await agent.close();
    throw err;
  }
  logger.info({ nodeId: session.nodeId, name: fp.request.name }, 'node ready');
  agent.connected(session);
  setConnected();
  agent.run();
  return {
    get nodeId() {
      return agent.session.nodeId;
    },
    close: () => agent.close(),
  };
}

class Agent {
  private readonly runners = new Map<string, AllocRunner>();
  /** found by the drivers but in no state file: resolved against the first alloc list */
  private orphans: Orphan[] = [];
  private firstListSeen = false;
  private reregistering: Promise<void> | undefined;
  private loops: Promise<void>[] = [];
  /** when the agent last reached the server (the disconnect guard and the watchdog count from it) */
  readonly contact: ServerContact;
  /** a task start writes the watchdog's lease at once */
  readonly leaseWake = new LeaseWake();
  /** aborted (and replaced) when the server answers again after a silence */
  private renewedWatch = new AbortController();

  constructor(
    private readonly ctx: AgentContext,
    private readonly opts: AgentOptions,
    private readonly request: RegisterNodeRequest,
    public session: Session,
    private readonly abort: AbortController,
    /** every driver asked for, healthy or not: orphans may sit under any */
    private readonly allDrivers: Driver[],
  ) {
    this.contact = new ServerContact(session.reachedAt);
  }

  /**
   * Before the first alloc list: take up every alloc on disk and re-attach to
   * its running tasks, so the watcher finds them known and starts nothing twice.
   */
  async restore(): Promise<void> {
    const { logger, store } = this.ctx;
    const { states, errors } = await store.readAll();
    for (const e of errors) logger.error({ allocId: e.allocId, err: e.error }, 'unreadable alloc state file: ignoring it');
    for (const s of states) this.runners.set(s.allocId, AllocRunner.restore(this.ctx, s));
    await Promise.all([...this.runners.values()].map((r) => r.reattach()));
    if (states.length > 0) logger.info({ allocs: states.length }, 'restored allocs from the data dir');

    // a node never registered has no tasks of its own to find (and '' would name every node's)
    if (!this.session.nodeId) return;
    const known = new Set([...this.runners.values()].flatMap((r) => r.handleIds()));
    for (const driver of this.allDrivers) {
      try {
        for (const t of await driver.list(this.session.nodeId)) {
          if (!known.has(t.handle.id)) this.orphans.push({ driver, allocId: t.allocId, taskName: t.taskName, handle: t.handle });
        }
      } catch (err) {
        logger.warn({ driver: driver.name, err: errorMessage(err) }, 'cannot list the tasks of a driver');
      }
    }
    if (this.orphans.length > 0) logger.warn({ orphans: this.orphans.length }, 'found tasks no state file knows');
  }

  /** the loops that keep the tasks within the bound, from before the agent reaches the server */
  guard(): void {
    const { logger, signal } = this.ctx;
    this.loops.push(
      disconnectGuardLoop({ contact: this.contact, runners: () => this.runners.values(), bound: () => this.bound(), logger, signal }),
      watchdogLoop({
        dataDir: this.opts.dataDir,
        lease: () => buildLease({ contactAt: this.contact.lastAt, runners: this.runners.values(), bound: this.bound() }),
        wake: this.leaseWake,
        logger,
        signal,
      }),
    );
  }

  /** the server answered the agent's start: its session (and bound) from now on */
  connected(session: Session): void {
    if (this.session.nodeId && session.nodeId !== this.session.nodeId) {
      this.ctx.logger.warn({ before: this.session.nodeId, after: session.nodeId }, 'registered as a new node: the allocs of the old one will be stopped');
    }
    this.session = session;
    this.reached(session.reachedAt);
  }

  run(): void {
    const { client, logger, signal } = this.ctx;
    this.loops.push(
      watchAllocs({
        fetch: (index, waitMs, s) => client.allocs(index, waitMs, s),
        onAllocs: (allocs) => this.onAllocs(allocs),
        renewed: () => this.renewedWatch.signal,
        onUnauthorized: () => this.reregister(),
        logger,
        signal,
      }),
      heartbeatLoop({
        beat: async (timeoutMs) => {
          const sentAt = monotonicMs();
          const res = await client.heartbeat({ usage: buildUsageReport(this.runners.values()) }, timeoutMs);
          this.reached(sentAt, res);
          return res;
        },
        onNotReady: async () => {
          await client.updateNode(this.request);
        },
        onUnauthorized: () => this.reregister(),
        ttlMs: () => this.session.heartbeatTtlMs,
        setTtlMs: (ttl) => (this.session.heartbeatTtlMs = ttl),
        logger,
        signal,
      }),
      certRenewalLoop({ client, dataDir: this.opts.dataDir, tls: () => this.session.tls, nodeId: () => this.session.nodeId, logger, signal }),
    );
  }

  /** a request sent at `sentAt` got through: the allocs may run for another bound */
  private reached(sentAt: number, res?: { stopAfterMs?: unknown; heartbeatTtlMs?: unknown }): void {
    if (res) this.session.stopAfterMs = stopAfterOf(res);
    const { silentForMs } = this.contact.reached(sentAt);
    if (silentForMs !== undefined) {
      this.ctx.logger.info({ silentForMs }, 'reached the server again');
      // the alloc watch may hang on a connection the partition killed: ask again now
      this.renewedWatch.abort();
      this.renewedWatch = new AbortController();
    }
  }

  /** what the server said the node may do without it */
  bound(): NodeBound {
    return { ttlMs: this.session.heartbeatTtlMs, stopAfterMs: this.session.stopAfterMs };
  }

  async close(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled(this.loops);
    const done = Promise.allSettled([...this.runners.values()].map((r) => r.whenDone()));
    // a driver call in flight (an image pull) may take long: the tasks stay, so do not wait for it
    const grace = new AbortController();
    await Promise.race([done, sleep(CLOSE_GRACE_MS, grace.signal)]);
    // a pending grace timer would keep the process alive for nothing
    grace.abort();
  }

  /** the server forgot the node: register again (once, however many loops noticed) */
  private reregister(): Promise<void> {
    this.reregistering ??= (async () => {
      try {
        const before = this.session.nodeId;
        const session = await connect({
          client: this.ctx.client,
          dataDir: this.opts.dataDir,
          serverUrl: this.opts.serverUrl,
          joinToken: this.opts.joinToken,
          request: this.request,
          logger: this.ctx.logger,
          signal: this.ctx.signal,
        });
        this.session = session;
        this.reached(session.reachedAt);
        if (this.session.nodeId !== before) {
          this.ctx.logger.warn({ before, after: this.session.nodeId }, 'registered as a new node: the allocs of the old one will be stopped');
        }
      } finally {
        this.reregistering = undefined;
      }
    })();
    return this.reregistering;
  }

  private onAllocs(allocs: AgentAlloc[]): void {
    const listed = new Map(allocs.map((aa) => [aa.alloc.id, aa]));
    const adopt = new Map<string, Orphan[]>();

    if (!this.firstListSeen) {
      this.firstListSeen = true;
      for (const o of this.orphans) {
        const aa = listed.get(o.allocId);
        if (aa && wantsRun(aa)) {
          const r = this.runners.get(o.allocId);
          if (!r) {
            adopt.set(o.allocId, [...(adopt.get(o.allocId) ?? []), o]);
            continue;
          }
          if (r.canAdopt(o.taskName)) {
            this.ctx.logger.info({ allocId: o.allocId, task: o.taskName }, 'adopting a task started before a crash');
            r.adopt(o.taskName, o.handle);
            continue;
          }
        }
        void this.removeOrphan(o);
      }
      this.orphans = [];
      // restored allocs: continue those still wanted, stop the others before they start anything
      for (const [id, r] of this.runners) {
        const aa = listed.get(id);
        if (aa) {
          r.update(aa);
          r.start();
        } else {
          r.stop();
        }
      }
    }

    for (const aa of allocs) {
      const id = aa.alloc.id;
      const known = this.runners.get(id);
      if (known) {
        known.update(aa);
        continue;
      }
      if (!wantsRun(aa)) continue;
      const r = AllocRunner.create(this.ctx, aa, this.session.nodeId);
      this.runners.set(id, r);
      for (const o of adopt.get(id) ?? []) {
        if (r.canAdopt(o.taskName)) {
          this.ctx.logger.info({ allocId: id, task: o.taskName }, 'adopting a task started before a crash');
          r.adopt(o.taskName, o.handle);
        } else {
          void this.removeOrphan(o);
        }
      }
      this.ctx.logger.info({ allocId: id, name: aa.alloc.name }, 'starting alloc');
      void r.save();
      r.start();
    }

    for (const [id, r] of this.runners) {
      if (listed.has(id)) continue;
      if (r.finished) {
        this.runners.delete(id);
        r.remove().catch((err) => this.ctx.logger.warn({ allocId: id, err: errorMessage(err) }, 'cannot remove the alloc dir'));
      } else if (!r.terminal) {
        r.stop();
      }
    }
  }

  /** a task of a crash that no state file knows and the server does not want: stop and free it */
  private async removeOrphan(o: Orphan): Promise<void> {
    const { logger } = this.ctx;
    logger.warn({ allocId: o.allocId, task: o.taskName, id: o.handle.id }, 'stopping an orphaned task');
    const config: TaskConfig = {
      nodeId: this.session.nodeId,
      allocId: o.allocId,
      allocName: '',
      allocIndex: 0,
      namespace: '',
      jobId: '',
      taskName: o.taskName,
      args: [],
      env: {},
      resources: { cpu: 0, memory: 0, disk: 0 },
      killSignal: 'SIGTERM',
      killTimeoutMs: 5000,
      taskDir: this.ctx.store.taskDir(o.allocId, o.taskName),
    };
    try {
      const running = await o.driver.attach(o.handle, config);
      if (!running) return;
      await running.stop(config.killTimeoutMs, config.killSignal);
      await running.destroy();
    } catch (err) {
      logger.warn({ allocId: o.allocId, task: o.taskName, err: errorMessage(err) }, 'cannot remove an orphaned task');
    }
  }
}

function wantsRun(aa: AgentAlloc): boolean {
  return aa.alloc.desiredStatus === 'run' && !TERMINAL_CLIENT_STATUSES.includes(aa.alloc.clientStatus);
}

/**
 * For the server's tests: a real server on loopback in a temp dir, a node as an
 * agent would register it, and a bounded wait. Not part of the build.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RegisterNodeRequest } from '../api/types.js';
import { BatonClient } from '../client/client.js';
import { createLogger } from '../util/logger.js';
import { startServer, type RunningServer } from './server.js';

export interface TestServer {
  dir: string;
  /** a test that restarts the server puts the new one here */
  server: RunningServer;
  /** signed in with the admin token */
  client: BatonClient;
  /** --store of the server (undefined: SQLite in its dir); a restart passes it again */
  store?: string;
  /** stops the server and removes its dir */
  close(): Promise<void>;
}

/** plain HTTP unless `tls: true` (then the client trusts the server's CA); `store` as --store takes it */
export async function startTestServer(opts: { heartbeatTtlMs: number; logCapBytes: number; tls?: boolean; store?: string }): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'baton-server-'));
  const { tls, ...rest } = opts;
  const server = await startServer({
    dataDir: dir,
    host: '127.0.0.1',
    port: 0,
    ...rest,
    insecureHttp: tls !== true,
    logger: createLogger('silent', 'test'),
    version: 'test',
  });
  const t: TestServer = {
    dir,
    server,
    ...(opts.store ? { store: opts.store } : {}),
    client: new BatonClient({ baseUrl: server.url, token: server.adminToken, ca: server.tls?.caPem }),
    close: async () => {
      // the server a test put in place of the first (a restart) is the one to stop
      await t.server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return t;
}

/** a ready exec node with 4 cores and 4 GiB unless told otherwise */
export function nodeRequest(name: string, over: Partial<RegisterNodeRequest> = {}): RegisterNodeRequest {
  return {
    name,
    nodeClass: '',
    datacenter: 'dc1',
    drivers: { exec: { healthy: true, detail: 'test' } },
    attributes: {},
    labels: {},
    capacity: { cpu: 4000, memory: 4 * 1024 ** 3, disk: 0 },
    reserved: { cpu: 0, memory: 0, disk: 0 },
    ...over,
  };
}

/** fn's first value that is neither undefined nor false, polled every 20 ms for up to 10 s */
export async function until<T>(fn: () => Promise<T | undefined | false>, what: string): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

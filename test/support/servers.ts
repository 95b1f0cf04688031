/**
 * Several real `baton server` processes on one PostgreSQL database, and a
 * TCP relay between a server and the database that a test can cut (a
 * partition of that server from PostgreSQL, not a crash).
 */
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StatusResponse } from '../../src/api/types.js';
import { BatonClient } from '../../src/client/client.js';
import { freePort, startProc, waitFor, type Proc } from './cluster.js';

export interface ServerProc {
  dataDir: string;
  url: string;
  proc: Proc;
  joinToken: string;
  adminToken: string;
  caFile: string;
  id: string;
  client: BatonClient;
}

export interface StartServerOptions {
  storeUrl: string;
  /** a server whose secrets key to copy first (every server of a database needs the same one) */
  like?: ServerProc;
  leaderTtl?: string;
  heartbeatTtl?: string;
  dirs: string[];
  /** start again on this server's data directory and port (its URL stays the same) */
  restart?: ServerProc;
}

export async function startServer(o: StartServerOptions): Promise<ServerProc> {
  const dataDir = o.restart?.dataDir ?? (await mkdtemp(join(tmpdir(), 'baton-e2e-srv-')));
  if (!o.restart) o.dirs.push(dataDir);
  if (o.like) await copyFile(join(o.like.dataDir, 'secrets.key'), join(dataDir, 'secrets.key'));
  const port = o.restart ? Number(new URL(o.restart.url).port) : await freePort();
  const proc = startProc(
    [
      'server',
      '--data-dir',
      dataDir,
      '--bind',
      `127.0.0.1:${port}`,
      '--store',
      o.storeUrl,
      '--leader-ttl',
      o.leaderTtl ?? '2s',
      '--heartbeat-ttl',
      o.heartbeatTtl ?? '10s',
      '--log-level',
      'info',
    ],
    { HOME: dataDir },
  );
  const info = await waitFor(
    'server.json',
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`server exited: ${proc.output()}`);
      // a restart rewrites it: the old one does not count
      if (o.restart && !/listening on/.test(proc.output())) return undefined;
      return JSON.parse(await readFile(join(dataDir, 'server.json'), 'utf8')) as { url: string; joinToken: string; adminToken: string; caFile: string };
    },
    60_000,
  );
  const ca = await readFile(info.caFile, 'utf8');
  const client = new BatonClient({ baseUrl: info.url, token: info.adminToken, ca });
  const st = await waitFor('server to answer', () => client.status(), 30_000);
  return { dataDir, url: info.url, proc, joinToken: info.joinToken, adminToken: info.adminToken, caFile: info.caFile, id: st.serverId, client };
}

export async function kill(s: ServerProc, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (s.proc.child.exitCode !== null) return;
  s.proc.child.kill(signal);
  await s.proc.exited;
}

/** the leader as `via` sees it, once one leads */
export async function leaderOf(via: ServerProc, not?: string, timeoutMs = 60_000): Promise<StatusResponse> {
  return waitFor(
    `a leader${not ? ` other than ${not}` : ''}`,
    async () => {
      const st = await via.client.status();
      return st.leaderId && st.leaderId !== not ? st : undefined;
    },
    timeoutMs,
    100,
  );
}

export async function removeDirs(dirs: string[]): Promise<void> {
  for (const d of dirs) await rm(d, { recursive: true, force: true }).catch(() => undefined);
}

/** forwards loopback connections to PostgreSQL until cut: a partition between one server and the database */
export class CuttableRelay {
  private readonly sockets = new Set<Socket>();
  private cutOff = false;
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<CuttableRelay> {
    let relay: CuttableRelay | undefined;
    const server = createServer((client) => {
      if (relay!.cutOff) return client.destroy();
      const upstream = connect(targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        relay!.sockets.add(s);
        s.on('close', () => relay!.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    relay = new CuttableRelay(server, port);
    return relay;
  }

  /** every connection through it stops answering (not closed: packets vanish, as in a partition) */
  cut(): void {
    this.cutOff = true;
    for (const s of this.sockets) s.pause();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

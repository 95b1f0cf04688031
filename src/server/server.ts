/**
 * `baton server`: the store, the HTTP API, the eval worker and the heartbeat
 * monitor in one process. First start creates the admin and join tokens and
 * writes them with the URL to <dataDir>/server.json (mode 0600).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { openSqlite } from '../store/sqlite.js';
import { hashSecret, newSecret } from '../store/ids.js';
import { Store } from '../store/store.js';
import { buildApp } from './app.js';
import { openServerVault } from '../secrets/vault.js';
import { createContext } from './context.js';
import { EvalWorker } from './eval-worker.js';
import { DEFAULT_GC, GcLoop, registerGcLoop, type GcOptions } from './gc-loop.js';
import { HeartbeatMonitor } from './heartbeat-monitor.js';
import { PeriodicLauncher } from './periodic-launcher.js';

export interface ServerOptions {
  dataDir: string;
  host: string;
  port: number;
  heartbeatTtlMs: number;
  logCapBytes: number;
  logger: Logger;
  version: string;
  /** garbage collection: retention of finished work (default DEFAULT_GC) */
  gc?: Partial<GcOptions>;
  /** the secrets key file given by the operator; default <dataDir>/secrets.key, made on first start */
  secretsKeyFile?: string;
}

export interface ServerInfo {
  url: string;
  joinToken: string;
  adminToken: string;
}

export interface RunningServer extends ServerInfo {
  store: Store;
  /** true when this start created the tokens */
  firstStart: boolean;
  close(): Promise<void>;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  const store = await Store.open(openSqlite(join(opts.dataDir, 'baton.db')), 'sqlite', { logCapBytes: opts.logCapBytes });
  const { joinToken, adminToken, firstStart } = await ensureTokens(store, opts.dataDir);
  const gc = new GcLoop(store, { ...DEFAULT_GC, ...opts.gc }, opts.logger);
  registerGcLoop(store, gc);
  const ctx = createContext(store, opts.version, opts.heartbeatTtlMs, opts.logger);
  const app = buildApp(ctx, { secrets: await openServerVault(opts.dataDir, opts.secretsKeyFile, opts.logger) });
  await app.listen({ host: opts.host, port: opts.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const host = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const info: ServerInfo = { url, joinToken, adminToken };
  await writeSecretFile(join(opts.dataDir, 'server.json'), info);

  const worker = new EvalWorker(store, opts.logger);
  const monitor = new HeartbeatMonitor(store, opts.heartbeatTtlMs, opts.logger);
  const launcher = new PeriodicLauncher(store, opts.logger);
  worker.start();
  monitor.start();
  launcher.start();
  gc.start();

  return {
    ...info,
    store,
    firstStart,
    async close() {
      monitor.stop();
      launcher.stop();
      gc.stop();
      // blocking queries (agents' watches hold one for a minute) answer now, or the close waits for them
      ctx.shutdown();
      await worker.stop();
      await app.close();
      await store.close();
    },
  };
}

/** Tokens survive restarts: the plaintext stays only in server.json, the store keeps hashes. */
async function ensureTokens(store: Store, dataDir: string): Promise<{ joinToken: string; adminToken: string; firstStart: boolean }> {
  let saved: Partial<ServerInfo> = {};
  try {
    saved = JSON.parse(await readFile(join(dataDir, 'server.json'), 'utf8')) as ServerInfo;
  } catch {
    /* first start */
  }
  const joinHash = await store.getMeta('join_token_hash');
  const joinOk = saved.joinToken !== undefined && joinHash === hashSecret(saved.joinToken);
  const adminOk = saved.adminToken !== undefined && (await store.tokenBySecret(saved.adminToken)) !== undefined;
  if (joinOk && adminOk) return { joinToken: saved.joinToken!, adminToken: saved.adminToken!, firstStart: false };
  const joinToken = joinOk ? saved.joinToken! : newSecret('join');
  const adminToken = adminOk ? saved.adminToken! : newSecret('admin');
  if (!joinOk) await store.setMeta('join_token_hash', hashSecret(joinToken));
  if (!adminOk) await store.createToken(adminToken, 'admin', 'admin', '*');
  return { joinToken, adminToken, firstStart: true };
}

export async function writeSecretFile(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

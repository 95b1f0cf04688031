/**
 * `baton server`: the store, the HTTP API, the eval worker and the heartbeat
 * monitor in one process. First start creates the admin and join tokens and
 * writes them with the URL to <dataDir>/server.json (mode 0600). It serves
 * HTTPS with the cluster's own CA (src/tls/) unless told insecureHttp.
 */
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { openStore } from '../store/open-store.js';
import { parseStoreUrl } from '../store/store-url.js';
import { hashSecret, newSecret } from '../store/ids.js';
import { Store } from '../store/store.js';
import type { Server as TlsServer } from 'node:tls';
import { buildApp } from './app.js';
import { setServerTls } from './node-identity.js';
import { formatJoinToken, parseJoinToken } from '../tls/join-token.js';
import { ServerTls, type ServerTlsOptions } from '../tls/server-tls.js';
import { renewalDue, showFingerprint } from '../tls/x509.js';
import { openServerVault } from '../secrets/vault.js';
import { createContext } from './context.js';
import { EvalWorker } from './eval-worker.js';
import { DEFAULT_GC, GcLoop, registerGcLoop, type GcOptions } from './gc-loop.js';
import { HeartbeatMonitor } from './heartbeat-monitor.js';
import { PeriodicLauncher } from './periodic-launcher.js';
import { Leadership } from './leadership.js';
import { ownSqliteFile } from './sqlite-owner.js';
import { EVENT_BUFFER_SIZE, eventBufferFor } from './events.js';
import { checkSecretsKey, recordSecretsKey, shareClusterCa } from './cluster-material.js';

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
  /** rotating the key: secrets sealed with this key are re-sealed with the current one at start */
  secretsPreviousKeyFile?: string;
  /** plain HTTP instead of HTTPS: --insecure-http, `baton dev` on loopback, fast in-process tests */
  insecureHttp?: boolean;
  /** --tls-san and the operator's own certificate files */
  tls?: Omit<ServerTlsOptions, 'dataDir' | 'host'>;
  /** --store: sqlite:///path (default <dataDir>/baton.db) or postgres://… shared by several servers */
  store?: string;
  /** how long the leader lease holds without renewal (several servers on PostgreSQL) */
  leaderTtlMs?: number;
  /** false: a server that learns of other servers' commits only when it writes or catches up on purpose (tests of a lagging server) */
  listen?: boolean;
}

export interface ServerInfo {
  url: string;
  joinToken: string;
  adminToken: string;
  /** sha256:<hex> of the CA the server's certificate chains to (absent on plain HTTP) */
  caFingerprint?: string;
  /** that CA's PEM file */
  caFile?: string;
  /** several servers on one database: every one seen at this start, this one first (the CLI tries them in turn) */
  urls?: string[];
}

export interface RunningServer extends ServerInfo {
  store: Store;
  /** the TLS material, absent on plain HTTP */
  tls?: ServerTls;
  /** true when this start created the tokens */
  firstStart: boolean;
  close(): Promise<void>;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  // it holds the CA key, the secrets key and the admin token: a directory made looser by hand (or an older baton) is closed again
  await chmod(opts.dataDir, 0o700);
  const where = parseStoreUrl(opts.store, join(opts.dataDir, 'baton.db'));
  const releaseFile = where.kind === 'sqlite' ? await ownSqliteFile(where.file) : undefined;
  const store = await openStore(where, { logCapBytes: opts.logCapBytes, ...(opts.listen === false ? { listen: false } : {}) }).catch(async (err: unknown) => {
    await releaseFile?.();
    throw err;
  });
  const serverId = await ensureServerId(opts.dataDir);
  const { joinToken: joinSecret, adminToken, firstStart } = await ensureTokens(store, opts.dataDir, serverId);
  const ownCerts = opts.tls?.certFile || opts.tls?.keyFile || opts.tls?.caFile;
  if (store.shared && !opts.insecureHttp && !ownCerts) {
    const how = await shareClusterCa(store, opts.dataDir);
    if (how === 'adopted') opts.logger.info({ store: store.location }, 'serving with the cluster CA the first server of this database published');
  }
  const tls = opts.insecureHttp ? undefined : await ServerTls.open({ ...opts.tls, dataDir: opts.dataDir, host: opts.host });
  if (tls) setServerTls(store, tls);
  const joinToken = formatJoinToken(joinSecret, tls?.fingerprint);
  const gc = new GcLoop(store, { ...DEFAULT_GC, ...opts.gc }, opts.logger);
  registerGcLoop(store, gc);
  const ctx = createContext(store, opts.version, opts.heartbeatTtlMs, opts.logger);
  ctx.serverId = serverId;
  // rejectUnauthorized false: users and browsers come without client certificates; agent routes check them (node-identity.ts)
  const https = tls ? { ...tls.files(), requestCert: true, rejectUnauthorized: false } : undefined;
  const vault = await openServerVault(opts.dataDir, opts.secretsKeyFile, opts.logger, store, opts.secretsPreviousKeyFile);
  if (store.shared) {
    if (opts.secretsPreviousKeyFile) await recordSecretsKey(store, vault.keyId());
    else await checkSecretsKey(store, vault.keyId(), opts.secretsKeyFile ?? join(opts.dataDir, 'secrets.key'));
  }
  const app = buildApp(ctx, { secrets: vault, https });
  // a client's event stream resumes here from an index another server of the database handed out
  if (store.shared) eventBufferFor(store).seed(await store.recentEvents(EVENT_BUFFER_SIZE));
  await app.listen({ host: opts.host, port: opts.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const host = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  const url = `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const info: ServerInfo = {
    url,
    joinToken,
    adminToken,
    ...(tls ? { caFingerprint: showFingerprint(tls.fingerprint), caFile: join(opts.dataDir, 'ca.pem') } : {}),
  };
  await writeSecretFile(join(opts.dataDir, 'server.json'), info);

  const worker = new EvalWorker(store, opts.logger);
  const monitor = new HeartbeatMonitor(store, opts.heartbeatTtlMs, opts.logger);
  const launcher = new PeriodicLauncher(store, opts.logger);
  // every server writes the heartbeats it takes; only the leader acts on silence
  monitor.setLeading(false);
  monitor.start();
  const leadership = new Leadership(
    store,
    {
      async gained(epoch) {
        store.fenceWith({ serverId, epoch });
        // the caches must hold what the last leader committed before this one plans on them
        await store.follow();
        monitor.setLeading(true);
        worker.start();
        launcher.start();
        gc.start();
      },
      async lost() {
        store.fenceWith(undefined);
        monitor.setLeading(false);
        launcher.stop();
        gc.stop();
        await worker.stop();
      },
    },
    { serverId, url, version: opts.version, ttlMs: opts.leaderTtlMs, logger: opts.logger },
  );
  ctx.leadership = leadership;
  await leadership.start();
  if (store.shared) {
    const others = (await leadership.servers().catch(() => [])).map((x) => x.url).filter((u) => u !== url);
    if (others.length > 0) {
      info.urls = [url, ...new Set(others)];
      await writeSecretFile(join(opts.dataDir, 'server.json'), info);
    }
  }
  const renewal = tls ? renewServerCert(tls, app.server as unknown as TlsServer, opts.logger) : undefined;

  return {
    ...info,
    store,
    firstStart,
    tls,
    async close() {
      renewal?.stop();
      // the lease goes first, so another server leads at once
      await leadership.stop();
      monitor.stop();
      // blocking queries (agents' watches hold one for a minute) answer now, or the close waits for them
      ctx.shutdown();
      await app.close();
      await store.close();
      await releaseFile?.();
    },
  };
}

/**
 * A server's own name among the servers of one database: made on its first
 * start and kept in its data directory, so a restarted leader is the same
 * holder and takes its lease straight back.
 */
async function ensureServerId(dataDir: string): Promise<string> {
  const file = join(dataDir, 'server-id');
  try {
    const id = (await readFile(file, 'utf8')).trim();
    if (id) return id;
  } catch {
    /* first start */
  }
  const id = `${hostname()
    .replace(/[^A-Za-z0-9.-]/g, '-')
    .slice(0, 40)}-${randomBytes(3).toString('hex')}`;
  await writeFile(`${file}.tmp`, `${id}\n`, { mode: 0o644 });
  await rename(`${file}.tmp`, file);
  return id;
}

/** Tokens survive restarts: the plaintext stays only in server.json, the store keeps hashes. */
async function ensureTokens(store: Store, dataDir: string, serverId: string): Promise<{ joinToken: string; adminToken: string; firstStart: boolean }> {
  let saved: Partial<ServerInfo> = {};
  try {
    saved = JSON.parse(await readFile(join(dataDir, 'server.json'), 'utf8')) as ServerInfo;
  } catch {
    /* first start */
  }
  const joinHash = await store.getMeta('join_token_hash');
  // server.json keeps the token with the CA fingerprint; the store has the hash of its secret part
  const savedJoin = saved.joinToken !== undefined ? parseJoinToken(saved.joinToken).secret : undefined;
  const savedHash = savedJoin !== undefined ? hashSecret(savedJoin) : undefined;
  const joinOk = savedHash !== undefined && (joinHash === savedHash || (store.shared && (await store.getMeta(`join_token:${savedHash}`)) !== undefined));
  const adminOk = saved.adminToken !== undefined && (await store.tokenBySecret(saved.adminToken)) !== undefined;
  if (joinOk && adminOk) return { joinToken: savedJoin!, adminToken: saved.adminToken!, firstStart: false };
  const joinToken = joinOk ? savedJoin! : newSecret('join');
  const adminToken = adminOk ? saved.adminToken! : newSecret('admin');
  if (!joinOk) {
    // a server joining a database others serve adds its token beside theirs: replacing the cluster's would lock their agents out
    if (store.shared && joinHash !== undefined) await store.setMeta(`join_token:${hashSecret(joinToken)}`, serverId);
    else await store.setMeta('join_token_hash', hashSecret(joinToken));
  }
  if (!adminOk) await store.createToken(adminToken, store.shared && joinHash !== undefined ? `admin (server ${serverId})` : 'admin', 'admin', '*');
  return { joinToken, adminToken, firstStart: true };
}

/** baton's own server certificate is renewed at half its life and swapped in without a restart */
function renewServerCert(tls: ServerTls, server: TlsServer, logger: Logger): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = (): void => {
    if (stopped || !tls.selfSigned) return;
    // setTimeout holds at most ~24 days; an hour's check is cheap
    const wait = Math.min(Math.max(renewalDue(tls.serverCertPem) - Date.now(), 1000), 3600_000);
    timer = setTimeout(() => {
      tls
        .renewServerIfDue()
        .then((renewed) => {
          if (!renewed) return;
          server.setSecureContext(tls.files());
          logger.info('server certificate renewed');
        })
        .catch((err: Error) => logger.error({ err: err.message }, 'renewing the server certificate failed; retrying'))
        .finally(schedule);
    }, wait);
    timer.unref();
  };
  schedule();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

export async function writeSecretFile(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

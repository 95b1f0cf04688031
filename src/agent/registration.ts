/**
 * How an agent becomes a node of the cluster: the first time with the join
 * token (the server answers with the node's own secret, kept in node.json),
 * every later start with that secret. The server may not be up yet, so
 * connection errors are retried with backoff. Over https the server is
 * verified against the CA the join token pins (node-tls.ts), and the node
 * gets its client certificate at registration.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { RegisterNodeRequest } from '../api/types.js';
import type { AgentClient } from '../client/agent-client.js';
import { urlList } from '../client/http.js';
import { createNodeCsr } from '../tls/node-key.js';
import { Backoff, errorMessage, httpStatus, isTransient, sleep } from './backoff.js';
import { loadNodeTls, saveNodeCert, type NodeTls } from './node-tls.js';
import { readJson, writeJsonAtomic } from './state-file.js';
import { defaultStopAfterMs } from '../jobs/disconnect.js';
import { monotonicMs } from './contact.js';

export interface NodeFile {
  nodeId: string;
  secret: string;
  /** the server URL the node registered with (several: comma-separated) */
  serverUrl: string;
}

export interface Session {
  nodeId: string;
  heartbeatTtlMs: number;
  /** how long allocs may run without reaching the server (the server's bound) */
  stopAfterMs: number;
  /** monotonic ms (contact.ts) when the request that connected was sent */
  reachedAt: number;
  /** the node's TLS material; absent on a plain-HTTP server */
  tls?: NodeTls;
}

export interface ConnectOptions {
  client: AgentClient;
  dataDir: string;
  /** one server, or the servers of one cluster */
  serverUrl: string | readonly string[];
  joinToken?: string;
  request: RegisterNodeRequest;
  logger: Logger;
  signal: AbortSignal;
}

/** the TTL an agent assumes until a server says otherwise */
export const DEFAULT_TTL_MS = 10_000;

export function nodeFilePath(dataDir: string): string {
  return join(dataDir, 'node.json');
}

export async function readNodeFile(dataDir: string): Promise<NodeFile | undefined> {
  const nf = await readJson<NodeFile>(nodeFilePath(dataDir));
  if (nf === undefined) return undefined;
  if (typeof nf.nodeId !== 'string' || typeof nf.secret !== 'string') {
    throw new Error(`${nodeFilePath(dataDir)} is damaged (no nodeId or secret): remove it and start the agent with the join token to register again`);
  }
  return nf;
}

export function writeNodeFile(dataDir: string, nf: NodeFile): Promise<void> {
  // the secret is a credential: only the agent's user may read it
  return writeJsonAtomic(nodeFilePath(dataDir), nf, { mode: 0o600, durable: true });
}

/** Calls fn until it succeeds or fails for a reason retrying cannot fix. */
export async function retryTransient<T>(what: string, fn: () => Promise<T>, logger: Logger, signal: AbortSignal): Promise<T> {
  const backoff = new Backoff(500, 15_000);
  for (;;) {
    if (signal.aborted) throw new Error('agent closed');
    try {
      return await fn();
    } catch (err) {
      if (signal.aborted) throw new Error('agent closed');
      if (!isTransient(err)) throw err;
      const delay = backoff.next();
      logger.warn({ err: errorMessage(err), retryInMs: delay }, `${what} failed; retrying`);
      await sleep(delay, signal);
    }
  }
}

function ttlOf(res: unknown): number {
  const ttl = (res as { heartbeatTtlMs?: unknown } | undefined)?.heartbeatTtlMs;
  return typeof ttl === 'number' && Number.isFinite(ttl) && ttl > 0 ? ttl : DEFAULT_TTL_MS;
}

/** the server's bound, or (a server from before it said one) the same default it would give */
export function stopAfterOf(res: unknown): number {
  const v = (res as { stopAfterMs?: unknown } | undefined)?.stopAfterMs;
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : defaultStopAfterMs(ttlOf(res));
}

function sessionTimes(res: unknown, reachedAt: number): Pick<Session, 'heartbeatTtlMs' | 'stopAfterMs' | 'reachedAt'> {
  return { heartbeatTtlMs: ttlOf(res), stopAfterMs: stopAfterOf(res), reachedAt };
}

/** sends the node's facts, and notes when the request that got through was sent */
async function updateNode(opts: ConnectOptions): Promise<{ res: unknown; sentAt: number }> {
  return retryTransient(
    'updating the node',
    async () => {
      const sentAt = monotonicMs();
      return { res: await opts.client.updateNode(opts.request), sentAt };
    },
    opts.logger,
    opts.signal,
  );
}

export const JOIN_TOKEN_NEEDED =
  'this agent is not registered yet, and registering needs the join token: pass --token <join token>. ' +
  'The server prints the join token when it starts and keeps it in server.json (field joinToken) in its data directory.';

/**
 * Registers the node or, when node.json exists, refreshes its facts with the
 * node secret. The client is left using the node secret.
 */
export async function connect(opts: ConnectOptions): Promise<Session> {
  const { client, logger, signal } = opts;
  const tls = await retryTransient('fetching the cluster CA', () => loadNodeTls(opts), logger, signal);
  client.useTls(tls && { ca: tls.ca, cert: tls.cert, key: tls.key.keyPem });
  const nf = await readNodeFile(opts.dataDir);
  if (nf && tls && !tls.cert && !opts.joinToken) {
    throw new Error(`node ${nf.nodeId} has no client certificate (node.pem in ${opts.dataDir}) for this TLS server. ${JOIN_TOKEN_NEEDED}`);
  }
  if (nf && (!tls || tls.cert)) {
    // the servers of a cluster may be listed otherwise than at registration: only a list with none of them is another
    const urls = urlList(opts.serverUrl);
    if (nf.serverUrl && !nf.serverUrl.split(',').some((u) => urls.includes(u))) {
      logger.warn({ registeredWith: nf.serverUrl, serverUrl: urls.join(',') }, 'this node was registered with another server URL');
    }
    client.useToken(nf.secret);
    try {
      const { res, sentAt } = await updateNode(opts);
      return { nodeId: nf.nodeId, ...sessionTimes(res, sentAt), tls };
    } catch (err) {
      // 403: the certificate is not this node's (another CA, another node): register afresh
      if (httpStatus(err) !== 401 && !(httpStatus(err) === 403 && opts.joinToken)) throw err;
      if (!opts.joinToken) {
        throw new Error(`the server does not know node ${nf.nodeId} any more (its secret was refused). ${JOIN_TOKEN_NEEDED}`);
      }
      logger.warn({ nodeId: nf.nodeId }, 'the server does not know this node any more; registering again with the join token');
    }
  } else if (!opts.joinToken) {
    throw new Error(JOIN_TOKEN_NEEDED);
  }

  client.useToken(opts.joinToken);
  const csr = tls ? createNodeCsr(tls.key, opts.request.name) : undefined;
  let res;
  try {
    res = await retryTransient('registering the node', () => client.register(opts.request, csr), logger, signal);
  } catch (err) {
    if (httpStatus(err) === 401 || httpStatus(err) === 403) {
      throw new Error(`the server refused the join token (HTTP ${httpStatus(err)}): check --token against joinToken in the server's server.json`);
    }
    throw err;
  }
  if (typeof res?.nodeId !== 'string' || typeof res?.secret !== 'string') {
    throw new Error('the server answered the registration without a node id or secret');
  }
  if (tls) {
    if (typeof res.certificate !== 'string') throw new Error('the server answered the registration without a node certificate');
    // the certificate first: a node.json without it would be taken for a complete registration
    await saveNodeCert(opts.dataDir, res.certificate);
    tls.cert = res.certificate;
    client.useTls({ ca: tls.ca, cert: tls.cert, key: tls.key.keyPem });
  }
  await writeNodeFile(opts.dataDir, { nodeId: res.nodeId, secret: res.secret, serverUrl: urlList(opts.serverUrl).join(',') });
  client.useToken(res.secret);
  logger.info({ nodeId: res.nodeId }, 'registered as a new node');
  // registration alone may leave the node initializing; the update marks it ready
  const upd = await updateNode(opts);
  return { nodeId: res.nodeId, ...sessionTimes(upd.res ?? res, upd.sentAt), tls };
}

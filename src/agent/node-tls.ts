/**
 * The agent's side of mutual TLS, in its data dir: ca.pem (the cluster CA,
 * pinned by the join token's fingerprint on the first connection), node.key
 * (mode 0600, never leaves the machine) and node.pem (the node certificate
 * the server signs at registration and on renewal).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { BatonApiError, urlList } from '../client/http.js';
import { parseJoinToken } from '../tls/join-token.js';
import { fetchPinnedCaFrom, PinMismatchError } from '../tls/pin.js';
import { writeAtomic } from '../util/write-atomic.js';
import { fingerprintOf } from '../tls/fingerprint.js';
import { generateNodeKey, importNodeKey, type NodeKey } from '../tls/node-key.js';

export interface NodeTls {
  ca: string;
  key: NodeKey;
  /** absent until the server signed one */
  cert?: string;
}

export const caFile = (dataDir: string): string => join(dataDir, 'ca.pem');
export const keyFile = (dataDir: string): string => join(dataDir, 'node.key');
export const certFile = (dataDir: string): string => join(dataDir, 'node.pem');

/** 495 (certificate error): retrying cannot fix it, so the agent stops with the message */
const fatal = (message: string): BatonApiError => new BatonApiError(495, message);

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The CA to verify the server with, the node key and any certificate; undefined
 * for a plain-HTTP server. The first time (no ca.pem, or a join token pinning
 * another CA) the CA is fetched and must match the token's fingerprint.
 */
export async function loadNodeTls(opts: {
  dataDir: string;
  serverUrl: string | readonly string[];
  joinToken?: string;
  logger: Logger;
}): Promise<NodeTls | undefined> {
  const pin = opts.joinToken ? parseJoinToken(opts.joinToken).fingerprint : undefined;
  const urls = urlList(opts.serverUrl);
  const plain = urls.filter((u) => !u.startsWith('https:'));
  // the servers of one cluster share its CA: one TLS setting (and one ca.pem) serves them all
  if (plain.length > 0 && plain.length < urls.length) {
    throw fatal(
      `--server lists https:// and plain http:// URLs (${plain.join(', ')}): the servers of one cluster all serve https://, give each as \`baton server\` printed it`,
    );
  }
  if (plain.length > 0) {
    const shown = urls.join(',');
    if (pin) throw fatal(`--server ${shown} is plain http://, but the join token pins the server's CA: use https:// (the URL \`baton server\` printed)`);
    opts.logger.warn({ serverUrl: shown }, 'the server URL is plain http://: traffic, node secret included, is not encrypted');
    return undefined;
  }
  let ca = await readOptional(caFile(opts.dataDir));
  if (ca === undefined || (pin !== undefined && fingerprintOf(ca) !== pin)) {
    if (!pin) {
      throw fatal(
        'the agent has no CA to verify the server with (ca.pem in its data dir) and the join token carries no CA fingerprint: ' +
          'pass the join token `baton server` printed (join_<fingerprint>_<secret>, in its server.json)',
      );
    }
    ca = await fetchPinnedCaFrom(urls, pin).catch((err: Error) => {
      throw err instanceof PinMismatchError ? fatal(err.message) : err;
    });
    await writeAtomic(caFile(opts.dataDir), ca, 0o644);
    opts.logger.info({ fingerprint: `sha256:${pin}` }, 'pinned the cluster CA from the join token');
  }
  const keyPem = await readOptional(keyFile(opts.dataDir));
  let key: NodeKey;
  if (keyPem) key = importNodeKey(keyPem);
  else {
    key = generateNodeKey();
    await writeAtomic(keyFile(opts.dataDir), key.keyPem, 0o600);
  }
  return { ca, key, cert: await readOptional(certFile(opts.dataDir)) };
}

export function saveNodeCert(dataDir: string, cert: string): Promise<void> {
  return writeAtomic(certFile(dataDir), cert, 0o644);
}

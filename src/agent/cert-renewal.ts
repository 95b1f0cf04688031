/**
 * The node certificate renews itself at half its life: a new CSR with the
 * same key, sent with the current certificate and the node secret; the answer
 * is saved to node.pem and swapped into the client's connections, so nothing
 * restarts and a blocking query in flight finishes on the old connection.
 */
import type { Logger } from 'pino';
import type { AgentClient } from '../client/agent-client.js';
import { certTimes, renewalDue } from '../tls/cert-times.js';
import { createNodeCsr } from '../tls/node-key.js';
import { Backoff, errorMessage, sleep } from './backoff.js';
import { saveNodeCert, type NodeTls } from './node-tls.js';

export interface RenewalOptions {
  client: AgentClient;
  dataDir: string;
  /** the session's TLS state now (a re-registration replaces it) */
  tls: () => NodeTls | undefined;
  nodeId: () => string;
  logger: Logger;
  signal: AbortSignal;
}

// long sleeps are cut in pieces: timers hold at most ~24 days, and a clock jump is noticed within the hour
const MAX_SLEEP_MS = 3600_000;

export async function certRenewalLoop(opts: RenewalOptions): Promise<void> {
  const { logger, signal } = opts;
  const backoff = new Backoff(1000, 60_000);
  while (!signal.aborted) {
    const tls = opts.tls();
    if (!tls?.cert) {
      if (!(await sleep(60_000, signal))) return;
      continue;
    }
    const wait = renewalDue(tls.cert) - Date.now();
    if (wait > 0) {
      if (!(await sleep(Math.min(wait, MAX_SLEEP_MS), signal))) return;
      continue;
    }
    try {
      const res = await opts.client.renewCert(createNodeCsr(tls.key, opts.nodeId()));
      await saveNodeCert(opts.dataDir, res.certificate);
      tls.cert = res.certificate;
      opts.client.useTls({ ca: tls.ca, cert: tls.cert, key: tls.key.keyPem });
      backoff.reset();
      logger.info({ notAfter: new Date(certTimes(res.certificate).notAfter).toISOString() }, 'node certificate renewed');
    } catch (err) {
      const delay = backoff.next();
      logger.warn({ err: errorMessage(err), retryInMs: delay }, 'renewing the node certificate failed; retrying');
      if (!(await sleep(delay, signal))) return;
    }
  }
}

/**
 * The server's TLS material. By default baton is its own CA: on first start it
 * creates the cluster CA (ca.pem, ca.key) in the data dir, and on every start a
 * server certificate for its current names (server.pem), keeping its key
 * (server.key) so a pinned key stays valid. With --tls-cert/--tls-key/--tls-ca
 * the operator's certificate is served instead; node certificates are then
 * issued by --tls-ca with --tls-ca-key when given, else by the cluster CA.
 */
import { readFile } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { CA_LIFETIME_MS, leafLifetime, NODE_CERT_LIFETIME_MS, SERVER_CERT_LIFETIME_MS } from './lifetimes.js';
import { createCa, csrPublicKey, fingerprintOf, generateKeyPair, importKeyPair, issueLeaf, needsRenewal } from './x509.js';
import { writeAtomic } from '../util/write-atomic.js';

export { writeAtomic };

export interface ServerTlsOptions {
  dataDir: string;
  /** the bind host; 0.0.0.0/:: adds every interface address */
  host: string;
  /** more names or addresses for the server certificate (--tls-san) */
  sans?: string[];
  /** operator-provided PEM files */
  certFile?: string;
  keyFile?: string;
  caFile?: string;
  caKeyFile?: string;
}

interface Pair {
  certPem: string;
  keyPem: string;
}

export interface TlsFiles {
  key: string;
  cert: string;
  /** the CAs client certificates are verified against */
  ca: string;
}

export class ServerTls {
  private constructor(
    /** the CA agents and CLIs pin: the one the server certificate chains to */
    readonly caPem: string,
    /** signs node certificates */
    private readonly issuer: Pair,
    private server: Pair,
    /** false when the operator's certificate is served: it is theirs to renew */
    readonly selfSigned: boolean,
    private readonly opts: ServerTlsOptions,
  ) {}

  get fingerprint(): string {
    return fingerprintOf(this.caPem);
  }

  get serverCertPem(): string {
    return this.server.certPem;
  }

  /** for https.createServer and setSecureContext */
  files(): TlsFiles {
    return { key: this.server.keyPem, cert: this.server.certPem, ca: this.issuer.certPem };
  }

  static async open(opts: ServerTlsOptions): Promise<ServerTls> {
    const cluster = await ensureClusterCa(opts.dataDir);
    if (opts.certFile || opts.keyFile || opts.caFile) {
      if (!opts.certFile || !opts.keyFile || !opts.caFile) {
        throw new Error('--tls-cert, --tls-key and --tls-ca go together: the certificate, its key, and the CA that signed it (agents pin that CA)');
      }
      const [certPem, keyPem, caPem] = await Promise.all([opts.certFile, opts.keyFile, opts.caFile].map((f) => readPem(f)));
      let issuer = cluster;
      if (opts.caKeyFile) issuer = { certPem: caPem, keyPem: await readPem(opts.caKeyFile) };
      return new ServerTls(caPem, issuer, { certPem, keyPem }, false, opts);
    }
    if (opts.caKeyFile) throw new Error('--tls-ca-key needs --tls-ca (and --tls-cert, --tls-key)');
    const t = new ServerTls(cluster.certPem, cluster, { certPem: '', keyPem: await ensureKey(join(opts.dataDir, 'server.key')) }, true, opts);
    await t.renewServer();
    return t;
  }

  /** a new server certificate for the current names, same key */
  async renewServer(): Promise<void> {
    const kp = await importKeyPair(this.server.keyPem);
    const { dns, ips } = serverNames(this.opts.host, this.opts.sans ?? []);
    const certPem = await issueLeaf(this.issuer, {
      commonName: 'baton server',
      dns,
      ips,
      usage: 'server',
      lifetimeMs: leafLifetime(SERVER_CERT_LIFETIME_MS),
      publicKey: kp.keys.publicKey,
    });
    await writeAtomic(join(this.opts.dataDir, 'server.pem'), certPem, 0o644);
    this.server = { certPem, keyPem: this.server.keyPem };
  }

  /** true when the server certificate was renewed (only baton's own) */
  async renewServerIfDue(now = Date.now()): Promise<boolean> {
    if (!this.selfSigned || !needsRenewal(this.server.certPem, now)) return false;
    await this.renewServer();
    return true;
  }

  /** a client certificate for a node, its id as the common name */
  async issueNode(csrPem: string, nodeId: string): Promise<string> {
    const publicKey = await csrPublicKey(csrPem);
    return issueLeaf(this.issuer, { commonName: nodeId, usage: 'client', lifetimeMs: leafLifetime(NODE_CERT_LIFETIME_MS), publicKey });
  }
}

/** the bind host, loopback, the host name, every interface when bound to all, and --tls-san */
export function serverNames(host: string, extra: string[]): { dns: string[]; ips: string[] } {
  const all = new Set<string>(['127.0.0.1', '::1', 'localhost', hostname(), ...extra]);
  if (host === '0.0.0.0' || host === '::') {
    for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) all.add(i.address.replace(/%.*$/, ''));
  } else all.add(host);
  const dns: string[] = [];
  const ips: string[] = [];
  for (const n of all) (isIP(n) ? ips : dns).push(n);
  return { dns, ips };
}

export async function ensureClusterCa(dataDir: string): Promise<Pair> {
  const certFile = join(dataDir, 'ca.pem');
  const keyFile = join(dataDir, 'ca.key');
  try {
    return { certPem: await readFile(certFile, 'utf8'), keyPem: await readFile(keyFile, 'utf8') };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const ca = await createCa('baton cluster CA', CA_LIFETIME_MS);
  // the key first: a ca.pem without its key would be taken as complete next time
  await writeAtomic(keyFile, ca.keyPem, 0o600);
  await writeAtomic(certFile, ca.certPem, 0o644);
  return ca;
}

async function ensureKey(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const kp = await generateKeyPair();
  await writeAtomic(file, kp.keyPem, 0o600);
  return kp.keyPem;
}

async function readPem(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
}

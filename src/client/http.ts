/**
 * The one place that speaks HTTP to the server, for the CLI, the agent and tests.
 * Errors from the server arrive as ApiError bodies and are raised as BatonApiError.
 * Over https the server is verified against the cluster's CA (given as PEM, or
 * pinned by its fingerprint and fetched once), with the node's client
 * certificate when there is one.
 */
import type { Dispatcher } from 'undici';
import type { ApiError, ApiErrorDetail } from '../api/types.js';

export class BatonApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: ApiErrorDetail[] = [],
  ) {
    super(message);
    this.name = 'BatonApiError';
  }
}

export interface HttpOptions {
  /** e.g. https://127.0.0.1:4780 */
  baseUrl: string;
  token?: string;
  /** PEM of the CA the server's certificate chains to (else the system's roots) */
  ca?: string;
  /** sha256 hex of the CA certificate: fetched once and checked when `ca` is not given */
  caFingerprint?: string;
  /** a client certificate and its key (PEM): an agent's node certificate */
  cert?: string;
  key?: string;
}

export interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** raw text body with its content type, instead of JSON */
  rawBody?: { contentType: string; text: string };
  signal?: AbortSignal;
}

// blocking queries hold an answer for up to 5 minutes, log follows and event streams longer
const HEADERS_TIMEOUT_MS = 330_000;

const TLS_HINTS: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the server certificate is not signed by a trusted CA: pass --ca-file (the server\'s ca.pem) or use the server.json/current.json it wrote',
  SELF_SIGNED_CERT_IN_CHAIN: 'the server certificate chains to a CA this client does not trust: pass --ca-file (the server\'s ca.pem)',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server certificate is self-signed and not trusted: pass --ca-file',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the server certificate does not name this address: connect by a name it has, or restart the server with --tls-san',
  CERT_HAS_EXPIRED: 'the server certificate has expired',
  ERR_SSL_WRONG_VERSION_NUMBER: 'the server does not speak TLS here: it may run with --insecure-http (use http://)',
  UND_ERR_SOCKET: 'the server closed the connection: if it serves HTTPS, use https://',
  ECONNRESET: 'the server closed the connection: if it serves HTTPS, use https://',
};

/** what went wrong reaching the server, with a hint for TLS failures */
export function unreachable(baseUrl: string, err: unknown): BatonApiError {
  if (err instanceof BatonApiError) return err;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? (err as Error).message;
  const hint = TLS_HINTS[code] ?? (cause?.message && cause.message !== code ? cause.message : undefined);
  return new BatonApiError(0, `cannot reach the baton server at ${baseUrl}: ${code}${hint ? ` (${hint})` : ''}`);
}

export class HttpClient {
  private dispatcher: Promise<Dispatcher | undefined> | undefined;
  private pinnedCa: string | undefined;

  constructor(readonly options: HttpOptions) {}

  private getDispatcher(): Promise<Dispatcher | undefined> {
    this.dispatcher ??= (async () => {
      // loaded on the first request: a CLI command that never calls the server starts without it
      const { Agent } = await import('undici');
      if (!this.options.baseUrl.startsWith('https:')) return new Agent({ headersTimeout: HEADERS_TIMEOUT_MS, bodyTimeout: 0 });
      let ca = this.options.ca;
      if (ca === undefined && this.options.caFingerprint) ca = this.pinnedCa = await (await import('../tls/pin.js')).fetchPinnedCa(this.options.baseUrl, this.options.caFingerprint);
      return new Agent({ headersTimeout: HEADERS_TIMEOUT_MS, bodyTimeout: 0, connect: { ca, cert: this.options.cert, key: this.options.key } });
    })();
    // a failed pin is retried on the next call rather than remembered
    this.dispatcher.catch(() => (this.dispatcher = undefined));
    return this.dispatcher;
  }

  /** the CA PEM this client trusts, once known (after a pinned fetch) */
  async trustedCa(): Promise<string | undefined> {
    await this.getDispatcher();
    return this.options.ca ?? this.pinnedCa;
  }

  /** fetch with this client's TLS settings; network errors are thrown as they are */
  async fetch(url: URL | string, init: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal } = {}): Promise<Response> {
    const dispatcher = await this.getDispatcher();
    const { fetch: undiciFetch } = await import('undici');
    return (await undiciFetch(url, { ...init, dispatcher })) as unknown as Response;
  }

  /** closes the connections once the requests in flight are answered */
  async close(): Promise<void> {
    const d = await this.dispatcher?.catch(() => undefined);
    this.dispatcher = undefined;
    await d?.close();
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const url = new URL(path, this.options.baseUrl);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = {};
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    let body: string | undefined;
    if (opts.rawBody) {
      headers['content-type'] = opts.rawBody.contentType;
      body = opts.rawBody.text;
    } else if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    let res: Response;
    try {
      res = await this.fetch(url, { method, headers, body, signal: opts.signal });
    } catch (err) {
      // our own deadline: the server (or the path to it) did not answer, which a caller may retry
      if ((err as Error).name === 'TimeoutError' || (opts.signal?.reason as Error | undefined)?.name === 'TimeoutError') {
        throw new BatonApiError(0, `the baton server at ${this.options.baseUrl} did not answer ${method} ${url.pathname} in time`);
      }
      if ((err as Error).name === 'AbortError') throw err;
      throw unreachable(this.options.baseUrl, err);
    }
    const text = await res.text();
    let parsed: unknown = undefined;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    if (!res.ok) {
      const e = parsed as ApiError | undefined;
      throw new BatonApiError(res.status, e?.error ?? `${method} ${url.pathname} failed with HTTP ${res.status}`, e?.details ?? []);
    }
    return parsed as T;
  }
}

/**
 * The one place that speaks HTTP to the server, for the CLI, the agent and tests.
 * Errors from the server arrive as ApiError bodies and are raised as BatonApiError.
 * Over https the server is verified against the cluster's CA (given as PEM, or
 * pinned by its fingerprint and fetched once), with the node's client
 * certificate when there is one.
 *
 * A client may know several servers of one cluster (they share one database
 * and one CA, and any of them answers any request). A request goes to the one
 * that answered last; it moves on to the next only when that one is
 * unreachable: no connection (refused, reset, DNS, TLS), no answer in time, or
 * HTTP 502/503/504 (a proxy without a server behind it, a server shutting
 * down). Any other answer, 4xx or 500 included, is the cluster's answer and is
 * never asked again elsewhere. A POST, PUT or DELETE moves on only when it
 * cannot have been received (the connection was never made, or 503): a submit
 * is not done twice silently. After every server was tried once, the error
 * names each and why it failed.
 */
import type { Transport, WireResponse } from './wire.js';
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

/** which of a client's URLs answered last; clients that share one start where the others left off */
export interface StickyUrl {
  index: number;
}

export interface HttpOptions {
  /** e.g. https://127.0.0.1:4780, or the servers of one cluster, tried in turn when one is unreachable */
  baseUrl: string | readonly string[];
  token?: string;
  /** PEM of the CA the server's certificate chains to (else the system's roots) */
  ca?: string;
  /** sha256 hex of the CA certificate: fetched once and checked when `ca` is not given */
  caFingerprint?: string;
  /** a client certificate and its key (PEM): an agent's node certificate */
  cert?: string;
  key?: string;
  /** shared by the clients that replace one another (an agent's, when its token or certificate changes) */
  sticky?: StickyUrl;
  /**
   * what carries the requests: Node's http/https modules unless given (the
   * web UI gives the browser's fetch); the TLS options above are Node's
   */
  transport?: Transport;
}

export interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** raw text body with its content type, instead of JSON */
  rawBody?: { contentType: string; text: string };
  /** extra request headers (an event stream's accept) */
  headers?: Record<string, string>;
  /** the caller's: when it aborts (or its timeout passes), no other server is tried */
  signal?: AbortSignal;
  /** how long each server tried may take to answer; a server that does not is unreachable */
  timeoutMs?: number;
}

/** one or several URLs, as given */
export function urlList(baseUrl: string | readonly string[]): string[] {
  const urls = typeof baseUrl === 'string' ? [baseUrl] : [...baseUrl];
  if (urls.length === 0) throw new Error('no baton server URL given');
  return urls;
}

// blocking queries hold an answer for up to 5 minutes, log follows and event streams longer
const HEADERS_TIMEOUT_MS = 330_000;

const TLS_HINTS: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    "the server certificate is not signed by a trusted CA: pass --ca-file (the server's ca.pem) or use the server.json/current.json it wrote",
  SELF_SIGNED_CERT_IN_CHAIN: "the server certificate chains to a CA this client does not trust: pass --ca-file (the server's ca.pem)",
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server certificate is self-signed and not trusted: pass --ca-file',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the server certificate does not name this address: connect by a name it has, or restart the server with --tls-san',
  CERT_HAS_EXPIRED: 'the server certificate has expired',
  ERR_SSL_WRONG_VERSION_NUMBER: 'the server does not speak TLS here: it may run with --insecure-http (use http://)',
  UND_ERR_SOCKET: 'the server closed the connection: if it serves HTTPS, use https://',
  ECONNRESET: 'the server closed the connection: if it serves HTTPS, use https://',
};

/** what a failure to reach one server is called in the error that lists them all */
const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EHOSTDOWN: 'host down',
  ENETDOWN: 'network down',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed',
  UND_ERR_SOCKET: 'connection closed',
  UND_ERR_CLOSED: 'connection closed',
  UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
  UND_ERR_HEADERS_TIMEOUT: 'no answer in time',
  ETIMEDOUT: 'timed out',
};

/** failures that leave no doubt the request never left this client: it may go to another server, whatever its method */
const CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'UND_ERR_CONNECT_TIMEOUT']);

// a request is written only once the TLS handshake is done: a certificate or protocol failure comes before it
const isTlsCode = (code: string): boolean => /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_|ERR_OSSL_)/.test(code);

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);

interface FetchCause {
  code?: string;
  syscall?: string;
  message?: string;
  errors?: FetchCause[];
}

/** the network error under a transport failure (the first of several addresses tried, if that is all there is) */
function causeOf(err: unknown): FetchCause | undefined {
  const cause = (err as { cause?: FetchCause }).cause;
  if (cause && !cause.code && Array.isArray(cause.errors) && cause.errors.length > 0) return cause.errors[0];
  return cause;
}

/** what went wrong reaching the server, with a hint for TLS failures */
export function unreachable(baseUrl: string, err: unknown): BatonApiError {
  if (err instanceof BatonApiError) return err;
  const cause = causeOf(err);
  const code = cause?.code ?? (err as Error).message;
  const hint = TLS_HINTS[code] ?? (cause?.message && cause.message !== code ? cause.message : undefined);
  return new BatonApiError(0, `cannot reach the baton server at ${baseUrl}: ${code}${hint ? ` (${hint})` : ''}`);
}

/** the error a non-2xx answer stands for: the server's message when it sent one */
export async function answerError(res: WireResponse, method: string, pathname: string): Promise<BatonApiError> {
  const text = await res.text().catch(() => '');
  let e: ApiError | undefined;
  try {
    e = text.length > 0 ? (JSON.parse(text) as ApiError) : undefined;
  } catch {
    e = undefined;
  }
  const message = typeof e?.error === 'string' ? e.error : `${method} ${pathname} failed with HTTP ${res.status}`;
  return new BatonApiError(res.status, message, Array.isArray(e?.details) ? e.details : []);
}

function timedOut(baseUrl: string, method: string, pathname: string): BatonApiError {
  return new BatonApiError(0, `the baton server at ${baseUrl} did not answer ${method} ${pathname} in time`);
}

const isTimeout = (reason: unknown): boolean => (reason as Error | undefined)?.name === 'TimeoutError';

const seconds = (ms: number): string => `${Number((ms / 1000).toFixed(ms < 1000 ? 2 : 1))}s`;

/** one server that did not answer: why, in a few words, and the error it would be alone */
interface Failure {
  url: string;
  reason: string;
  error: BatonApiError;
  /** the request cannot have been received */
  beforeSend: boolean;
}

function networkFailure(url: string, err: unknown): Failure {
  const cause = causeOf(err);
  const code = cause?.code ?? (err as Error).message;
  const tls = isTlsCode(code);
  const reason = REASONS[code] ?? (TLS_HINTS[code] ? `${code}: ${TLS_HINTS[code]}` : code);
  const beforeSend = CONNECT_CODES.has(code) || tls || cause?.syscall === 'connect' || cause?.syscall === 'getaddrinfo';
  return { url, reason, error: unreachable(url, err), beforeSend };
}

function noneAnswered(failures: Failure[], method: string, pathname: string): BatonApiError {
  const last = failures[failures.length - 1];
  const list = failures.map((f) => `${f.url} (${f.reason})`).join(', ');
  return new BatonApiError(last.error.status, `no baton server answered ${method} ${pathname}: ${list}`);
}

export class HttpClient {
  private transport: Promise<Transport> | undefined;
  private pinnedCa: string | undefined;
  /** every server this client may ask, in the order given */
  readonly urls: readonly string[];
  private readonly sticky: StickyUrl;

  constructor(readonly options: HttpOptions) {
    this.urls = urlList(options.baseUrl);
    this.sticky = options.sticky ?? { index: 0 };
  }

  /** the URL the next request goes to first: the one that answered last */
  get currentUrl(): string {
    return this.urls[this.sticky.index % this.urls.length];
  }

  private getTransport(): Promise<Transport> {
    this.transport ??= (async () => {
      if (this.options.transport) return this.options.transport;
      // Node's modules, loaded here only: a browser build gives its own transport and never reaches this
      const { Transport: NodeTransport } = await import('./transport.js');
      let ca = this.options.ca;
      if (ca === undefined && this.options.caFingerprint && this.urls.some((u) => u.startsWith('https:'))) {
        // every server of the cluster presents the same CA: the first that answers will do
        ca = this.pinnedCa = await (await import('../tls/pin.js')).fetchPinnedCaFrom(this.urls, this.options.caFingerprint);
      }
      return new NodeTransport({ headersTimeoutMs: HEADERS_TIMEOUT_MS, ca, cert: this.options.cert, key: this.options.key });
    })();
    // a failed pin is retried on the next call rather than remembered
    this.transport.catch(() => (this.transport = undefined));
    return this.transport;
  }

  /** the CA PEM this client trusts, once known (after a pinned fetch) */
  async trustedCa(): Promise<string | undefined> {
    await this.getTransport();
    return this.options.ca ?? this.pinnedCa;
  }

  /** fetch one URL with this client's TLS settings; network errors are thrown as they are */
  async fetch(url: URL | string, init: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal } = {}): Promise<WireResponse> {
    const transport = await this.getTransport();
    return transport.request(new URL(url), init);
  }

  /** closes the connections once the requests in flight are answered */
  async close(): Promise<void> {
    const t = await this.transport?.catch(() => undefined);
    this.transport = undefined;
    // a transport given from outside is its owner's to close
    if (t && t !== this.options.transport) t.close();
  }

  /** the next request starts on the server after this one, which did not answer */
  private moveOn(i: number): void {
    if (this.sticky.index % this.urls.length === i) this.sticky.index = (i + 1) % this.urls.length;
  }

  /**
   * Sends the request to the servers in turn (see the top of this file) and
   * returns the first answer that is the cluster's, whatever its status; the
   * body is left to the caller.
   */
  async send(method: string, path: string, opts: RequestOptions = {}): Promise<{ res: WireResponse; url: URL }> {
    const headers: Record<string, string> = { ...opts.headers };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    let body: string | undefined;
    if (opts.rawBody) {
      headers['content-type'] = opts.rawBody.contentType;
      body = opts.rawBody.text;
    } else if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    let transport: Transport;
    try {
      transport = await this.getTransport();
    } catch (err) {
      // the CA could be fetched from none of them (or the one that answered is not the pinned one)
      throw unreachable(this.urls.join(', '), err);
    }
    const n = this.urls.length;
    const start = this.sticky.index % n;
    const idempotent = IDEMPOTENT.has(method.toUpperCase());
    const failures: Failure[] = [];
    let pathname = path;
    for (let k = 0; k < n; k++) {
      const i = (start + k) % n;
      const base = this.urls[i];
      const url = new URL(path, base);
      pathname = url.pathname;
      for (const [key, v] of Object.entries(opts.query ?? {})) {
        if (v !== undefined) url.searchParams.set(key, String(v));
      }
      // AbortSignal.timeout takes whole milliseconds only (a third of a 4 s TTL is not one)
      const deadline = opts.timeoutMs !== undefined ? AbortSignal.timeout(Math.max(1, Math.ceil(opts.timeoutMs))) : undefined;
      const signal = deadline && opts.signal ? AbortSignal.any([opts.signal, deadline]) : (deadline ?? opts.signal);
      let res: WireResponse;
      try {
        res = await transport.request(url, { method, headers, body, signal });
      } catch (err) {
        if (opts.signal?.aborted) {
          if (!isTimeout(opts.signal.reason)) throw err;
          // the caller's deadline: this server did not answer in time, and no time is left for another
          this.moveOn(i);
          if (n === 1) throw timedOut(base, method, pathname);
          throw noneAnswered(
            [...failures, { url: base, reason: 'no answer before the deadline', error: timedOut(base, method, pathname), beforeSend: false }],
            method,
            pathname,
          );
        }
        if (!deadline?.aborted && (err as Error).name === 'AbortError') throw err;
        const f: Failure = deadline?.aborted
          ? { url: base, reason: `timed out after ${seconds(opts.timeoutMs!)}`, error: timedOut(base, method, pathname), beforeSend: false }
          : networkFailure(base, err);
        if (idempotent || f.beforeSend) {
          failures.push(f);
          continue;
        }
        // it may have been received: doing it again elsewhere could do it twice
        this.moveOn(i);
        if (n === 1) throw f.error;
        throw noneAnswered(
          [...failures, { ...f, reason: `${f.reason}; ${method} not retried on another server: it may have been received` }],
          method,
          pathname,
        );
      }
      if (n > 1 && (res.status === 502 || res.status === 503 || res.status === 504)) {
        // 503: the server declined the request; 502/504: a proxy's, which may have passed it on
        if (idempotent || res.status === 503) {
          const e = await answerError(res, method, pathname);
          failures.push({ url: base, reason: `HTTP ${res.status}: ${e.message}`, error: e, beforeSend: true });
          continue;
        }
        this.moveOn(i);
        return { res, url };
      }
      this.sticky.index = i;
      return { res, url };
    }
    throw failures.length === 1 ? failures[0].error : noneAnswered(failures, method, pathname);
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const { res, url } = await this.send(method, path, opts);
    if (!res.ok) throw await answerError(res, method, url.pathname);
    const text = await res.text();
    if (text.length === 0) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      return undefined as T;
    }
  }
}

/**
 * HTTP/1.1 requests over Node's own http and https modules, for the CLI, the
 * agent and users' programs. Not fetch: Node's fetch and the undici package
 * take 40 to 75 ms to load, several times what a whole CLI command may take,
 * and hold more memory than the agent can spare. This is the little of fetch
 * baton needs: one request, its status and headers, its body as text or as
 * chunks, an AbortSignal, and errors that carry the network's code.
 *
 * The http/https module is loaded on the first request, so a command that
 * never talks to the server does not pay for it.
 */
/// <reference types="node" />
import type { Agent as HttpAgent, IncomingMessage, RequestOptions as NodeRequestOptions } from 'node:http';
import type { Transport as WireTransport, TransportOptions, WireRequest, WireResponse } from './wire.js';

export type { TlsSettings, TransportOptions, WireRequest, WireResponse } from './wire.js';

/**
 * A failure to get an answer; `cause` is Node's error with its `code`
 * (ECONNREFUSED, a TLS code, ...), as fetch reports it.
 */
export class TransportError extends Error {
  constructor(
    message: string,
    override readonly cause: Error & { code?: string; syscall?: string },
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

const DEFAULT_HEADERS_TIMEOUT_MS = 330_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** what an abort rejects with: the signal's reason, as fetch does */
function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

function coded(message: string, code: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

class NodeResponse implements WireResponse {
  readonly ok: boolean;
  readonly headers: { get(name: string): string | null };
  private used = false;

  constructor(
    private readonly res: IncomingMessage,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.ok = this.status >= 200 && this.status < 300;
    this.headers = {
      get: (name) => {
        const v = res.headers[name.toLowerCase()];
        return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
      },
    };
  }

  get status(): number {
    return this.res.statusCode ?? 0;
  }

  get body(): AsyncIterable<Uint8Array> {
    if (this.used) throw new Error('the body of this response was read already');
    this.used = true;
    const { res, signal } = this;
    return {
      async *[Symbol.asyncIterator]() {
        try {
          for await (const chunk of res) yield chunk as Buffer;
        } catch (err) {
          if (signal?.aborted) throw abortReason(signal);
          throw new TransportError('the connection broke while the answer was read', err as Error);
        }
        // a destroyed response ends its iteration quietly: an abort must still be told
        if (signal?.aborted) throw abortReason(signal);
      },
    };
  }

  async text(): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of this.body) chunks.push(Buffer.from(c));
    return Buffer.concat(chunks).toString('utf8');
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text()) as unknown;
  }
}

type NodeHttp = typeof import('node:http');

export class Transport implements WireTransport {
  private readonly agents = new Map<'http:' | 'https:', HttpAgent>();
  private readonly modules = new Map<'http:' | 'https:', Promise<NodeHttp>>();

  constructor(private readonly options: TransportOptions = {}) {}

  private module(protocol: 'http:' | 'https:'): Promise<NodeHttp> {
    let m = this.modules.get(protocol);
    if (!m) {
      m = protocol === 'https:' ? (import('node:https') as unknown as Promise<NodeHttp>) : import('node:http');
      this.modules.set(protocol, m);
    }
    return m;
  }

  private async agent(protocol: 'http:' | 'https:'): Promise<HttpAgent> {
    const mod = await this.module(protocol);
    let agent = this.agents.get(protocol);
    if (!agent) {
      const { ca, cert, key, rejectUnauthorized } = this.options;
      // https.Agent takes the TLS options; http.Agent ignores them
      agent = new mod.Agent({ keepAlive: true, ...(protocol === 'https:' ? { ca, cert, key, rejectUnauthorized } : {}) });
      this.agents.set(protocol, agent);
    }
    return agent;
  }

  /** One request; resolves with the answer once its headers came. */
  async request(url: URL, init: WireRequest = {}): Promise<WireResponse> {
    const protocol = url.protocol;
    if (protocol !== 'http:' && protocol !== 'https:') throw new TypeError(`not an http:// or https:// URL: ${url.href}`);
    const mod = await this.module(protocol);
    const agent = await this.agent(protocol);
    try {
      return await this.once(mod, agent, url, init);
    } catch (err) {
      // the server closed an idle kept-alive connection just as this request went out on it: it never read the request
      if ((err as { reusedSocket?: boolean }).reusedSocket && !init.signal?.aborted) return this.once(mod, agent, url, init);
      throw err;
    }
  }

  private once(mod: NodeHttp, agent: HttpAgent, url: URL, init: WireRequest): Promise<WireResponse> {
    const { signal } = init;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const headers: Record<string, string | number> = { ...init.headers };
    if (init.body !== undefined) headers['content-length'] = Buffer.byteLength(init.body);
    const options: NodeRequestOptions = { method: init.method ?? 'GET', headers, agent };
    return new Promise<WireResponse>((resolve, reject) => {
      let answered = false;
      let connectTimer: NodeJS.Timeout | undefined;
      const req = mod.request(url, options);
      const headersTimer = setTimeout(
        () => req.destroy(coded(`no answer within ${this.options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS} ms`, 'UND_ERR_HEADERS_TIMEOUT')),
        this.options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
      );
      headersTimer.unref?.();
      const onAbort = (): void => {
        req.destroy();
        if (!answered) {
          answered = true;
          clearTimeout(headersTimer);
          clearTimeout(connectTimer);
          reject(abortReason(signal!));
        }
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('socket', (socket) => {
        if (!(socket as { connecting?: boolean }).connecting) return;
        connectTimer = setTimeout(
          () => req.destroy(coded('connect timed out', 'UND_ERR_CONNECT_TIMEOUT')),
          this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
        );
        socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
      });
      req.on('response', (res) => {
        answered = true;
        clearTimeout(headersTimer);
        clearTimeout(connectTimer);
        // the signal stays attached while the body is read: aborting then ends the body
        res.once('close', () => signal?.removeEventListener('abort', onAbort));
        resolve(new NodeResponse(res, signal));
      });
      req.on('error', (err: Error & { code?: string }) => {
        clearTimeout(headersTimer);
        clearTimeout(connectTimer);
        signal?.removeEventListener('abort', onAbort);
        if (answered) return;
        answered = true;
        if (signal?.aborted) return reject(abortReason(signal));
        const e = new TransportError(`${options.method} ${url.origin}${url.pathname} failed: ${err.code ?? err.message}`, err);
        reject(req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE') ? Object.assign(e, { reusedSocket: true }) : e);
      });
      req.end(init.body);
    });
  }

  /** closes the idle connections now, and the others once their requests are answered */
  close(): void {
    for (const a of this.agents.values()) {
      // the agent destroys a socket that comes free when it no longer keeps them alive
      (a as HttpAgent & { keepAlive: boolean }).keepAlive = false;
      for (const sockets of Object.values(a.freeSockets)) for (const s of sockets ?? []) s.destroy();
    }
    this.agents.clear();
  }
}

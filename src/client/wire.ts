/**
 * What the client needs of HTTP, whatever carries it: Node's http/https
 * modules (transport.ts, for the CLI, the agent and programs) or the
 * browser's fetch (fetch-transport.ts, for the web UI). Nothing here touches
 * Node, so the UI compiles the same client.
 */
export interface TlsSettings {
  /** PEM of the CA the server's certificate must chain to (else the system's roots) */
  ca?: string;
  /** a client certificate and its key (PEM) */
  cert?: string;
  key?: string;
  /** false: verify nothing (only to fetch a CA that is then checked against a pin) */
  rejectUnauthorized?: boolean;
}

export interface TransportOptions extends TlsSettings {
  /** how long to wait for the response headers once the request is sent */
  headersTimeoutMs?: number;
  /** how long a connection (and its TLS handshake) may take */
  connectTimeoutMs?: number;
}

export interface WireRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

/** an answer: status and headers, the body left to read once */
export interface WireResponse {
  readonly status: number;
  readonly ok: boolean;
  readonly headers: { get(name: string): string | null };
  /** the body as it arrives */
  readonly body: AsyncIterable<Uint8Array>;
  text(): Promise<string>;
  json(): Promise<unknown>;
}

/** one way of sending requests; close() lets go of its connections */
export interface Transport {
  request(url: URL, init?: WireRequest): Promise<WireResponse>;
  close(): void;
}

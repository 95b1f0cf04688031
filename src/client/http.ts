/**
 * The one place that speaks HTTP to the server, for the CLI, the agent and tests.
 * Errors from the server arrive as ApiError bodies and are raised as BatonApiError.
 */
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
  /** e.g. http://127.0.0.1:4646 */
  baseUrl: string;
  token?: string;
}

export interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** raw text body with its content type, instead of JSON */
  rawBody?: { contentType: string; text: string };
  signal?: AbortSignal;
}

export class HttpClient {
  constructor(readonly options: HttpOptions) {}

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
      res = await fetch(url, { method, headers, body, signal: opts.signal });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      const cause = (err as { cause?: { code?: string } }).cause;
      throw new BatonApiError(0, `cannot reach the baton server at ${this.options.baseUrl}: ${cause?.code ?? (err as Error).message}`);
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

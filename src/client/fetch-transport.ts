/**
 * The browser's fetch as the client's transport, for the web UI: same-origin
 * requests, TLS left to the browser. The answer's body is read through its
 * stream's reader (async iteration of a ReadableStream is not in every
 * browser yet).
 */
import type { Transport, WireRequest, WireResponse } from './wire.js';

async function* chunks(body: ReadableStream<Uint8Array> | null): AsyncGenerator<Uint8Array> {
  if (!body) return;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

export const fetchTransport: Transport = {
  async request(url: URL, init: WireRequest = {}): Promise<WireResponse> {
    const res = await fetch(url, { method: init.method ?? 'GET', headers: init.headers, body: init.body, signal: init.signal });
    return { status: res.status, ok: res.ok, headers: res.headers, body: chunks(res.body), text: () => res.text(), json: () => res.json() as Promise<unknown> };
  },
  close(): void {},
};

/**
 * Live updates. The server's event stream (GET /v1/events, server-sent events,
 * `?token=` because EventSource cannot send headers) tells us the moment anything
 * changes; when it is missing (an older server) or drops, we poll every 2 s
 * instead, so pages stay live either way. Pages do not look at events: they
 * refetch what they show whenever `version` moves.
 */
import { useSyncExternalStore } from 'react';
import type { ClusterEvent, EventTopic } from '../../src/api/types.js';

export type LiveMode = 'connecting' | 'sse' | 'polling';

const POLL_MS = 2000;
/** how long to poll before trying the stream again after it failed for good */
const SSE_RETRY_MS = 30_000;
const TOPICS: EventTopic[] = ['job', 'alloc', 'node', 'eval', 'deployment'];

export interface LiveState {
  mode: LiveMode;
  /** bumps on every change (an event, or a poll tick) */
  version: number;
  /** newest first, from the stream only */
  events: ClusterEvent[];
}

export class LiveFeed {
  private state: LiveState = { mode: 'connecting', version: 0, events: [] };
  private listeners = new Set<() => void>();
  private es: EventSource | undefined;
  private poll: ReturnType<typeof setInterval> | undefined;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private lastIndex = 0;
  private closed = false;

  constructor(private readonly token: string) {
    this.connect();
  }

  get = (): LiveState => this.state;
  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  close(): void {
    this.closed = true;
    this.es?.close();
    clearInterval(this.poll);
    clearTimeout(this.retry);
  }

  private set(patch: Partial<LiveState>): void {
    this.state = { ...this.state, ...patch };
    for (const l of this.listeners) l();
  }

  private connect(): void {
    if (this.closed || typeof EventSource === 'undefined') return this.startPolling();
    const url = new URL('/v1/events', window.location.origin);
    url.searchParams.set('token', this.token);
    if (this.lastIndex > 0) url.searchParams.set('index', String(this.lastIndex));
    const es = new EventSource(url);
    this.es = es;
    es.onopen = () => {
      this.stopPolling();
      // what changed while we were not listening is unknown: refetch once
      this.set({ mode: 'sse', version: this.state.version + 1 });
    };
    es.onerror = () => {
      // CONNECTING: the browser reconnects by itself; poll meanwhile.
      // CLOSED: no stream here (404, 401, not an event stream): poll, try again later.
      this.startPolling();
      if (es.readyState === EventSource.CLOSED) {
        es.close();
        clearTimeout(this.retry);
        this.retry = setTimeout(() => this.connect(), SSE_RETRY_MS);
      }
    };
    const onEvent = (m: MessageEvent<string>) => this.onEvent(m);
    es.onmessage = onEvent;
    // the server may name events by topic; listen for those too
    for (const t of TOPICS) es.addEventListener(t, onEvent);
  }

  private onEvent(m: MessageEvent<string>): void {
    let ev: ClusterEvent;
    try {
      ev = JSON.parse(m.data) as ClusterEvent;
    } catch {
      return; // a heartbeat comment or something we do not know: ignore
    }
    if (typeof ev !== 'object' || ev === null || typeof ev.topic !== 'string') return;
    if (typeof ev.index === 'number') {
      this.lastIndex = Math.max(this.lastIndex, ev.index);
    }
    this.set({ version: this.state.version + 1, events: [ev, ...this.state.events].slice(0, 100) });
  }

  private startPolling(): void {
    if (this.poll !== undefined) return;
    this.set({ mode: 'polling' });
    this.poll = setInterval(() => this.set({ version: this.state.version + 1 }), POLL_MS);
  }

  private stopPolling(): void {
    clearInterval(this.poll);
    this.poll = undefined;
  }
}

export function useLive(feed: LiveFeed): LiveState {
  return useSyncExternalStore(feed.subscribe, feed.get);
}

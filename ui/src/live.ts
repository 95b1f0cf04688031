/**
 * Live updates. The server's event stream (GET /v1/events, server-sent events,
 * with `?ticket=`: EventSource cannot send headers, and the long-lived token
 * must not sit in a URL, so each connection first asks POST /v1/events/ticket
 * for a ticket good for a minute) tells us the moment anything
 * changes; when it is missing (an older server) or drops, we poll every 2 s
 * instead, so pages stay live either way.
 *
 * A busy cluster sends thousands of events a minute (every run of a sweep
 * starts and ends), so nothing here refetches on its own and nothing renders
 * per event: events are collected and handed out in batches, and each piece of
 * data on a page watches only the events that concern it (see useData in
 * app.ts), refetching at most at its own pace.
 */
import { useSyncExternalStore } from 'react';
import type { ClusterEvent, EventTopic } from '../../src/api/types.js';
import { Api } from './api.js';

export type LiveMode = 'connecting' | 'sse' | 'polling';

const POLL_MS = 2000;
/** how long to poll before trying the stream again after it failed for good */
const SSE_RETRY_MS = 30_000;
/** after a stream that was open drops (its ticket has expired by then): a new ticket soon */
const SSE_RECONNECT_MS = 1000;
/** events are handed to watchers and to the screen in batches this far apart */
const BATCH_MS = 250;
const KEEP_EVENTS = 100;
const TOPICS: EventTopic[] = ['job', 'alloc', 'node', 'eval', 'deployment'];

export interface LiveState {
  mode: LiveMode;
  /** newest first, from the stream only */
  events: ClusterEvent[];
}

/** Which events make some data stale. */
export type EventMatch = (e: ClusterEvent) => boolean;

interface Watcher {
  match: EventMatch;
  /** called once per batch that holds a matching event, and on every resync */
  stale: () => void;
}

export class LiveFeed {
  private state: LiveState = { mode: 'connecting', events: [] };
  private listeners = new Set<() => void>();
  private watchers = new Set<Watcher>();
  private pending: ClusterEvent[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
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

  /** Tells `stale` when an event matches, or when what happened is unknown (a poll tick, a reconnect). */
  watch(match: EventMatch, stale: () => void): () => void {
    const w = { match, stale };
    this.watchers.add(w);
    return () => this.watchers.delete(w);
  }

  close(): void {
    this.closed = true;
    this.es?.close();
    clearInterval(this.poll);
    clearTimeout(this.retry);
    clearTimeout(this.flushTimer);
  }

  private set(patch: Partial<LiveState>): void {
    this.state = { ...this.state, ...patch };
    for (const l of this.listeners) l();
  }

  /** everything may have changed: every watcher refetches (each at its own pace) */
  private resync(): void {
    for (const w of [...this.watchers]) w.stale();
  }

  private connect(): void {
    if (this.closed || typeof EventSource === 'undefined') return this.startPolling();
    new Api(this.token).eventTicket().then(
      (t) => this.open(t.ticket),
      () => {
        // an older server without tickets, or a network error: poll, try again later
        this.startPolling();
        clearTimeout(this.retry);
        this.retry = setTimeout(() => this.connect(), SSE_RETRY_MS);
      },
    );
  }

  private open(ticket: string): void {
    if (this.closed) return;
    const url = new URL('/v1/events', window.location.origin);
    url.searchParams.set('ticket', ticket);
    if (this.lastIndex > 0) url.searchParams.set('index', String(this.lastIndex));
    const es = new EventSource(url);
    this.es = es;
    let opened = false;
    es.onopen = () => {
      opened = true;
      this.stopPolling();
      this.set({ mode: 'sse' });
      // what changed while we were not listening is unknown
      this.resync();
    };
    es.onerror = () => {
      // CONNECTING: the browser reconnects by itself (with the same ticket, fine within its minute); poll meanwhile.
      // CLOSED: refused (an expired ticket: 401) or not an event stream: poll, and connect again with a new ticket.
      this.startPolling();
      if (es.readyState === EventSource.CLOSED) {
        es.close();
        clearTimeout(this.retry);
        this.retry = setTimeout(() => this.connect(), opened ? SSE_RECONNECT_MS : SSE_RETRY_MS);
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
    if (typeof ev !== 'object' || ev === null || typeof ev.topic !== 'string' || typeof ev.key !== 'string') return;
    if (typeof ev.index === 'number') this.lastIndex = Math.max(this.lastIndex, ev.index);
    this.pending.push(ev);
    this.flushTimer ??= setTimeout(() => this.flush(), BATCH_MS);
  }

  private flush(): void {
    this.flushTimer = undefined;
    const batch = this.pending;
    this.pending = [];
    for (const w of [...this.watchers]) if (batch.some(w.match)) w.stale();
    const newest = batch.length >= KEEP_EVENTS ? batch.slice(-KEEP_EVENTS) : batch;
    this.set({ events: [...newest.reverse(), ...this.state.events].slice(0, KEEP_EVENTS) });
  }

  private startPolling(): void {
    if (this.poll !== undefined) return;
    this.set({ mode: 'polling' });
    this.poll = setInterval(() => this.resync(), POLL_MS);
  }

  private stopPolling(): void {
    clearInterval(this.poll);
    this.poll = undefined;
  }
}

export function useLive(feed: LiveFeed): LiveState {
  return useSyncExternalStore(feed.subscribe, feed.get);
}

// ---------------------------------------------------------------- which events concern what

/** the job an event is about: the job itself, or the job of an alloc, eval or deployment */
export function eventJob(e: ClusterEvent): string | undefined {
  if (e.topic === 'job') return e.key;
  const p = e.payload as { jobId?: unknown } | undefined;
  return typeof p?.jobId === 'string' ? p.jobId : undefined;
}

/**
 * Events about one job; with `runs`, also about its runs (child jobs `<id>/…`,
 * their allocs and evals), which is what moves a sweep's counts.
 */
export function aboutJob(namespace: string, id: string, runs = false): EventMatch {
  const prefix = `${id}/`;
  return (e) => {
    if (e.namespace !== undefined && e.namespace !== namespace) return false;
    const j = eventJob(e);
    return j === id || (runs && j !== undefined && j.startsWith(prefix));
  };
}

/** Events about one node: the node itself, or an alloc placed on it. */
export function aboutNode(id: string): EventMatch {
  return (e) => (e.topic === 'node' && e.key === id) || (e.topic === 'alloc' && (e.payload as { nodeId?: unknown } | undefined)?.nodeId === id);
}

export function aboutAlloc(id: string): EventMatch {
  return (e) => e.topic === 'alloc' && e.key === id;
}

export function onTopics(...topics: EventTopic[]): EventMatch {
  return (e) => topics.includes(e.topic);
}

/**
 * The cluster's event stream: the store emits `events` after each committed
 * write; this keeps the last ~10,000 in memory so a client (the UI, `baton
 * events -f`) can resume from an index after a reconnect, and fans new ones
 * out to live subscribers.
 */
import type { ClusterEvent, EventTopic } from '../api/types.js';
import type { Store } from '../store/store.js';

export const EVENT_TOPICS: readonly EventTopic[] = ['job', 'alloc', 'node', 'eval', 'deployment', 'secret'];
export const EVENT_BUFFER_SIZE = 10_000;

export interface EventFilter {
  /** empty or undefined: every topic */
  topics?: ReadonlySet<EventTopic>;
  /**
   * only events of this namespace ('*' or undefined: all). Events without a
   * namespace (nodes) are cluster-wide and always pass: every reader may list nodes.
   */
  namespace?: string;
}

export function matches(e: ClusterEvent, f: EventFilter): boolean {
  if (f.topics && f.topics.size > 0 && !f.topics.has(e.topic)) return false;
  if (f.namespace !== undefined && f.namespace !== '*' && e.namespace !== undefined && e.namespace !== f.namespace) return false;
  return true;
}

export class EventBuffer {
  private buf: ClusterEvent[] = [];
  private readonly listeners = new Set<(events: ClusterEvent[]) => void>();
  private readonly onEvents = (events: ClusterEvent[]): void => this.push(events);

  constructor(
    private readonly store: Pick<Store, 'on' | 'off'>,
    readonly capacity = EVENT_BUFFER_SIZE,
  ) {
    store.on('events', this.onEvents);
  }

  close(): void {
    this.store.off('events', this.onEvents);
    this.listeners.clear();
  }

  push(events: ClusterEvent[]): void {
    this.buf.push(...events);
    // trim in steps of a tenth, not per event: a big plan (1,000 placements) stays one copy
    if (this.buf.length > this.capacity + Math.ceil(this.capacity / 10)) this.buf = this.buf.slice(this.buf.length - this.capacity);
    for (const l of this.listeners) l(events);
  }

  /** older events (from the store's change log at start): put before what was pushed since, never after */
  seed(events: ClusterEvent[]): void {
    const first = this.buf[0]?.index ?? Number.POSITIVE_INFINITY;
    const older = events.filter((e) => e.index < first);
    this.buf = [...older.slice(-this.capacity), ...this.buf];
  }

  /** the index of the oldest event still kept (0 when none) */
  oldestIndex(): number {
    return this.buf[0]?.index ?? 0;
  }

  get size(): number {
    return Math.min(this.buf.length, this.capacity);
  }

  /** kept events after `index` that pass the filter, oldest first */
  since(index: number, f: EventFilter = {}): ClusterEvent[] {
    const start = Math.max(this.firstAfter(index), this.buf.length - this.capacity);
    const out: ClusterEvent[] = [];
    for (let i = start; i < this.buf.length; i++) if (matches(this.buf[i], f)) out.push(this.buf[i]);
    return out;
  }

  /** new events as they are recorded; returns the unsubscribe function */
  subscribe(fn: (events: ClusterEvent[]) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** indexes only grow, so the buffer is sorted: binary search for the first event past `index` */
  private firstAfter(index: number): number {
    let lo = 0;
    let hi = this.buf.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.buf[mid].index <= index) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** one server-sent event per cluster event; the id lets EventSource resume with Last-Event-ID */
export function formatSse(e: ClusterEvent): string {
  return `id: ${e.index}\ndata: ${JSON.stringify(e)}\n\n`;
}

const buffers = new WeakMap<object, EventBuffer>();

/** the one buffer of a store (the app, metrics and tests share it) */
export function eventBufferFor(store: Store): EventBuffer {
  let b = buffers.get(store);
  if (!b) {
    b = new EventBuffer(store);
    buffers.set(store, b);
  }
  return b;
}

/** what an event stream writes to: a ServerResponse, or a fake one in tests */
export interface SseSink {
  write(chunk: string): boolean;
  destroy(): void;
  readonly writableLength: number;
  readonly destroyed: boolean;
  readonly writableEnded: boolean;
  on(event: 'error' | 'close', fn: (...args: unknown[]) => void): unknown;
}

/**
 * One client's stream with a bounded buffer. A client that stops reading
 * (or reads slower than the cluster changes) is dropped the moment its
 * unread output passes `maxBuffered`: the socket is destroyed, not ended (an
 * end would wait for the reader forever), and nothing is written after, so no
 * later event or keepalive can hit a finished stream. It resumes with
 * Last-Event-ID like after any reconnect.
 */
export class SseConnection {
  private closed = false;

  constructor(
    private readonly sink: SseSink,
    private readonly maxBuffered: number,
    private readonly onClose: () => void,
  ) {
    // a reset by the peer must not become an unhandled 'error' that takes the server down
    sink.on('error', () => this.close());
    sink.on('close', () => this.close());
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  write(text: string): void {
    if (this.closed || text.length === 0) return;
    if (this.sink.destroyed || this.sink.writableEnded) return this.close();
    this.sink.write(text);
    if (this.sink.writableLength > this.maxBuffered) this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.sink.destroyed) this.sink.destroy();
    this.onClose();
  }
}

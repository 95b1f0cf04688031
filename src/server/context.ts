/** What the route handlers share: the store, settings, and ways to wait for changes. */
import type { Logger } from 'pino';
import type { ChangeEvent, Store } from '../store/store.js';
import type { Leadership } from './leadership.js';

export interface ServerContext {
  store: Store;
  version: string;
  heartbeatTtlMs: number;
  logger: Logger;
  /** resolves when the node's allocs change after `index`, or after `ms` */
  waitForNodeChange(nodeId: string, index: number, ms: number, signal: AbortSignal): Promise<void>;
  /** the index of the last change that touched this node's allocs */
  nodeIndex(nodeId: string): number;
  /** resolves when logs of the alloc arrive or the alloc changes, or after `ms` */
  waitForLogs(allocId: string, ms: number): Promise<void>;
  /** aborts when the server shuts down: every blocking query answers at once instead of holding the close up */
  closing: AbortSignal;
  /** ends every blocking query (the server is closing) */
  shutdown(): void;
  /** this server's id among the servers of its database */
  serverId?: string;
  /** who leads (absent in tests that run a bare app) */
  leadership?: Pick<Leadership, 'leading' | 'lease' | 'servers' | 'serverId'>;
}

export function createContext(store: Store, version: string, heartbeatTtlMs: number, logger: Logger): ServerContext {
  const touchedAt = new Map<string, number>();
  // before the first change since start, assume the worst: anything may have changed up to now
  const startIndex = store.currentIndex();
  const closing = new AbortController();
  store.on('change', (e: ChangeEvent) => {
    for (const n of e.nodes) touchedAt.set(n, e.index);
  });
  return {
    store,
    version,
    heartbeatTtlMs,
    logger,
    closing: closing.signal,
    shutdown: () => closing.abort(),
    nodeIndex: (nodeId) => touchedAt.get(nodeId) ?? startIndex,
    waitForNodeChange(nodeId, index, ms, signal) {
      return new Promise((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          store.off('change', onChange);
          signal.removeEventListener('abort', done);
          closing.signal.removeEventListener('abort', done);
          resolve();
        };
        const onChange = (e: ChangeEvent): void => {
          if (e.nodes.has(nodeId) && e.index > index) done();
        };
        const timer = setTimeout(done, ms);
        store.on('change', onChange);
        signal.addEventListener('abort', done);
        closing.signal.addEventListener('abort', done);
        if (closing.signal.aborted) done();
      });
    },
    waitForLogs(allocId, ms) {
      return new Promise((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          store.off('logs', onLogs);
          store.off('change', onChange);
          closing.signal.removeEventListener('abort', done);
          resolve();
        };
        const onLogs = (id: string): void => {
          if (id === allocId) done();
        };
        // a status change (task ended) also ends a follow
        const onChange = (): void => done();
        const timer = setTimeout(done, Math.max(0, ms));
        store.on('logs', onLogs);
        store.on('change', onChange);
        closing.signal.addEventListener('abort', done);
        if (closing.signal.aborted) done();
      });
    },
  };
}

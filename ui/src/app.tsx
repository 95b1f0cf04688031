/** The signed-in session (API + live feed), the hash router, and the data hook every page uses. */
import { createContext, useCallback, useContext, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { Api, HttpError } from './api.js';
import type { EventMatch, LiveFeed } from './live.js';

export interface Session {
  api: Api;
  feed: LiveFeed;
  signOut: (message?: string) => void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a signed-in session');
  return s;
}

// ---------------------------------------------------------------- routing

/**
 * Hash routes (#/jobs/default/web): every page is a plain link, survives a
 * reload, and needs nothing from the server but index.html.
 */
export interface Route {
  parts: string[];
  query: URLSearchParams;
}

function readRoute(): Route {
  const h = window.location.hash.replace(/^#\/?/, '');
  const [path = '', q = ''] = h.split('?');
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(q) };
}

let current = readRoute();
window.addEventListener('hashchange', () => {
  current = readRoute();
  for (const l of routeListeners) l();
});
const routeListeners = new Set<() => void>();

export function useRoute(): Route {
  return useSyncExternalStore(
    (fn) => {
      routeListeners.add(fn);
      return () => routeListeners.delete(fn);
    },
    () => current,
  );
}

export function href(...parts: Array<string | number>): string {
  return `#/${parts.map((p) => encodeURIComponent(String(p))).join('/')}`;
}

export function navigate(to: string): void {
  window.location.hash = to.replace(/^#/, '');
}

// ---------------------------------------------------------------- data

export interface Data<T> {
  data: T | undefined;
  error: HttpError | undefined;
  loading: boolean;
  /** `data` is of the deps before (only with `keep`) */
  previous: boolean;
  reload: () => void;
}

/** When data goes stale and how often it may be fetched again. */
export interface Freshness {
  /** the events that make it stale (default: any); false: only a deps change or reload() fetches it again */
  on?: EventMatch | false;
  /** at least this long between two fetches, ms (default 2000) */
  every?: number;
  /** also stale this often, ms: for data no event announces (usage samples come with heartbeats) */
  tick?: number;
  /** while deps change (the next page), keep showing the old data, marked `previous`, so the page does not jump */
  keep?: boolean;
}

/**
 * Fetches with the session's API, again when deps change, and again when an
 * event it watches arrives: at most once per `every`, and never while the
 * previous fetch is still out (slow answers under load must not pile up
 * requests). The last good data stays on screen while a refetch runs, so
 * nothing flickers.
 */
export function useData<T>(fn: (api: Api) => Promise<T>, deps: unknown[], fresh: Freshness = {}): Data<T> {
  const { api, feed, signOut } = useSession();
  const [state, setState] = useState<{ data?: T; error?: HttpError; loading: boolean; key: string }>({ loading: true, key: '' });
  const [manual, setManual] = useState(0);
  const key = JSON.stringify(deps);
  // the newest closures, so that rendering a page does not restart its watches
  const latest = useRef({ fn, fresh });
  latest.current = { fn, fresh };

  useEffect(() => {
    let alive = true;
    let inFlight = false;
    let again = false;
    let last = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const fetchNow = () => {
      if (!alive) return;
      if (inFlight) {
        again = true;
        return;
      }
      inFlight = true;
      last = Date.now();
      latest.current
        .fn(api)
        .then(
          (data) => alive && setState({ data, loading: false, key }),
          (error: unknown) => {
            if (!alive) return;
            const e = error instanceof HttpError ? error : new HttpError(0, String(error));
            if (e.status === 401) signOut('Your token is no longer valid for this server: sign in again.');
            // keep showing the last data of the same page when a refetch fails
            setState((s) => ({ data: s.key === key ? s.data : undefined, error: e, loading: false, key }));
          },
        )
        .finally(() => {
          inFlight = false;
          if (again) {
            again = false;
            stale();
          }
        });
    };
    const stale = () => {
      if (!alive || timer !== undefined) return;
      const every = latest.current.fresh.every ?? 2000;
      timer = setTimeout(
        () => {
          timer = undefined;
          fetchNow();
        },
        Math.max(0, last + every - Date.now()),
      );
    };
    fetchNow();
    const stop =
      latest.current.fresh.on === false
        ? undefined
        : feed.watch((e) => {
            const on = latest.current.fresh.on;
            return on === undefined || (on !== false && on(e));
          }, stale);
    const tick = latest.current.fresh.tick;
    const ticker = tick ? setInterval(stale, tick) : undefined;
    return () => {
      alive = false;
      stop?.();
      clearTimeout(timer);
      clearInterval(ticker);
    };
  }, [key, manual, api, feed, signOut]);

  const reload = useCallback(() => setManual((n) => n + 1), []);
  const same = state.key === key;
  const kept = !same && !!fresh.keep && state.data !== undefined;
  return { data: same || kept ? state.data : undefined, error: same ? state.error : undefined, loading: !same || state.loading, previous: kept, reload };
}

/**
 * Walks a paged listing one page at a time: the cursors of the pages before
 * are kept so Previous goes back without refetching from the start. Any change
 * of `reset` (a filter) starts again at the first page.
 */
export function usePager(reset: unknown[]): { cursor: string | undefined; page: number; next: (cursor: string) => void; prev: () => void; first: () => void } {
  const key = JSON.stringify(reset);
  const [s, setS] = useState<{ key: string; stack: Array<string | undefined> }>({ key, stack: [undefined] });
  const stack = s.key === key ? s.stack : [undefined];
  return {
    cursor: stack[stack.length - 1],
    page: stack.length - 1,
    next: (cursor) => setS({ key, stack: [...stack, cursor] }),
    prev: () => setS({ key, stack: stack.length > 1 ? stack.slice(0, -1) : stack }),
    first: () => setS({ key, stack: [undefined] }),
  };
}

/** the current time, ticking each second, for ages ("12s ago") */
let nowValue = Date.now();
const nowListeners = new Set<() => void>();
setInterval(() => {
  nowValue = Date.now();
  for (const l of nowListeners) l();
}, 1000);
export function useNow(): number {
  return useSyncExternalStore(
    (fn) => {
      nowListeners.add(fn);
      return () => nowListeners.delete(fn);
    },
    () => nowValue,
  );
}

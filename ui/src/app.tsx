/** The signed-in session (API + live feed), the hash router, and the data hook every page uses. */
import { createContext, useCallback, useContext, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { Api, HttpError } from './api.js';
import { LiveFeed, useLive } from './live.js';

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
  reload: () => void;
}

/**
 * Fetches with the session's API and fetches again whenever the live feed moves
 * (at most about twice a second: a busy cluster sends bursts of events). The last
 * good data stays on screen while a refetch runs, so nothing flickers.
 */
export function useData<T>(fn: (api: Api) => Promise<T>, deps: unknown[]): Data<T> {
  const { api, feed, signOut } = useSession();
  const live = useLive(feed);
  const [state, setState] = useState<{ data?: T; error?: HttpError; loading: boolean; key: string }>({ loading: true, key: '' });
  const [manual, setManual] = useState(0);
  const seq = useRef(0);
  const key = JSON.stringify(deps);
  const throttled = useThrottled(live.version, 500);

  useEffect(() => {
    const mine = ++seq.current;
    fn(api).then(
      (data) => mine === seq.current && setState({ data, loading: false, key }),
      (error: unknown) => {
        if (mine !== seq.current) return;
        const e = error instanceof HttpError ? error : new HttpError(0, String(error));
        if (e.status === 401) signOut('Your token is no longer valid for this server: sign in again.');
        // keep showing the last data of the same page when a refetch fails
        setState((s) => ({ data: s.key === key ? s.data : undefined, error: e, loading: false, key }));
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, throttled, manual, api]);

  const reload = useCallback(() => setManual((n) => n + 1), []);
  const same = state.key === key;
  return { data: same ? state.data : undefined, error: same ? state.error : undefined, loading: !same || state.loading, reload };
}

function useThrottled<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  const last = useRef(0);
  useEffect(() => {
    const wait = last.current + ms - Date.now();
    if (wait <= 0) {
      last.current = Date.now();
      setV(value);
      return;
    }
    const t = setTimeout(() => {
      last.current = Date.now();
      setV(value);
    }, wait);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
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

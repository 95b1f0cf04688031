/** Entry: sign-in gate, then the shell (navigation, live indicator) around the routed page. */
import { useEffect, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { Api, HttpError, savedToken, saveToken } from './api.js';
import { SessionContext, useRoute, useSession, type Session } from './app.js';
import { ErrorBox } from './components.js';
import { LiveFeed, useLive } from './live.js';
import { AllocPage, AllocsPage } from './pages/allocs.js';
import { JobPage, JobsPage } from './pages/jobs.js';
import { NodePage, NodesPage } from './pages/nodes.js';
import { OverviewPage } from './pages/overview.js';
import './styles.css';

/** Checks a token against this server; resolves to an error message, or undefined when it is good. */
async function checkToken(token: string): Promise<string | undefined> {
  try {
    await new Api(token).status();
    return undefined;
  } catch (e) {
    const err = e as HttpError;
    // 401: unknown here; 403: a node secret or join token, which cannot read the API
    if (err.status === 401 || err.status === 403)
      return 'This token is not valid for this server. Paste an API token (the admin token is in the server\u2019s server.json, or make one with `baton token create`).';
    return err.message;
  }
}

function SignIn({ onSignIn, notice }: { onSignIn: (token: string) => void; notice?: string }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  return (
    <main className="signin">
      <form
        className="card signin-card"
        onSubmit={async (e) => {
          e.preventDefault();
          const t = token.trim();
          if (!t) return setError('Paste an API token first.');
          setBusy(true);
          setError(undefined);
          const problem = await checkToken(t);
          setBusy(false);
          if (problem) return setError(problem);
          onSignIn(t);
        }}
      >
        <h1 className="brand">baton</h1>
        <p className="muted">Sign in with an API token of this server.</p>
        {notice && !error && <p className="notice">{notice}</p>}
        <label htmlFor="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={token}
          onChange={(e) => setToken(e.target.value)}
          placeholder="paste your token"
          autoFocus
        />
        <button className="btn primary" type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        <ErrorBox error={error} />
      </form>
    </main>
  );
}

function LiveIndicator() {
  const { feed } = useSession();
  const live = useLive(feed);
  const text = live.mode === 'sse' ? 'Live' : live.mode === 'polling' ? 'Polling every 2 s' : 'Connecting…';
  return (
    <span
      className={`live live-${live.mode}`}
      title={live.mode === 'sse' ? 'updates stream from the server' : 'the event stream is not available: refreshing every 2 seconds'}
    >
      {text}
    </span>
  );
}

function Shell() {
  const route = useRoute();
  const { signOut } = useSession();
  const [section = '', id, id2] = route.parts;
  let page;
  if (section === '') page = <OverviewPage />;
  else if (section === 'nodes') page = id ? <NodePage id={id} /> : <NodesPage />;
  else if (section === 'jobs') page = id && id2 ? <JobPage namespace={id} id={id2} query={route.query} /> : <JobsPage query={route.query} />;
  else if (section === 'allocs') page = id ? <AllocPage id={id} /> : <AllocsPage query={route.query} />;
  else page = <ErrorBox error={`No page at #/${route.parts.join('/')}.`} />;
  const nav = [
    ['', 'Overview'],
    ['nodes', 'Nodes'],
    ['jobs', 'Jobs'],
    ['allocs', 'Allocs'],
  ];
  return (
    <div className="shell">
      <header className="topbar">
        <a className="brand" href="#/">
          baton
        </a>
        <nav>
          {nav.map(([k, label]) => (
            <a key={k} href={`#/${k}`} className={section === k ? 'active' : ''} aria-current={section === k ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <div className="topbar-right">
          <LiveIndicator />
          <button className="btn link" type="button" onClick={() => signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main className="content">{page}</main>
    </div>
  );
}

function App() {
  const [token, setToken] = useState<string | null>(() => savedToken());
  const [notice, setNotice] = useState<string>();
  const session = useMemo<Session | null>(() => {
    if (!token) return null;
    return {
      api: new Api(token),
      feed: new LiveFeed(token),
      signOut: (message?: string) => {
        saveToken(null);
        setNotice(message);
        setToken(null);
      },
    };
  }, [token]);
  useEffect(() => () => session?.feed.close(), [session]);
  if (!session) {
    return (
      <SignIn
        notice={notice}
        onSignIn={(t) => {
          saveToken(t);
          setNotice(undefined);
          setToken(t);
        }}
      />
    );
  }
  return (
    <SessionContext.Provider value={session}>
      <Shell />
    </SessionContext.Provider>
  );
}

// no StrictMode: its double mount in development would close the session's event stream
createRoot(document.getElementById('root')!).render(<App />);

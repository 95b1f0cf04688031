// Builds the dashboard into dist/ui, next to the compiled server, so `baton server`
// serves it from the installed package with no extra step.
//
// `npm run dev:ui` serves it with hot reload and proxies the API (/v1, the event
// stream included) to a running server, the first of:
//   BATON_ADDR (the first URL, if it lists several);
//   the server `baton dev` or `baton server` last started as this user
//     (~/.config/baton/current.json: `baton dev` moves to a free port when 4780 is taken, and says so there);
//   http://127.0.0.1:4780, where `baton dev` listens (plain HTTP on loopback).
// An https server is trusted through BATON_CA_FILE, else the cluster CA that
// current.json holds for that same URL: the proxy checks the certificate, it
// does not turn verification off.
import react from '@vitejs/plugin-react';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { defineConfig, type ProxyOptions } from 'vite';

const here = import.meta.dirname;
const BATON_DEV_URL = 'http://127.0.0.1:4780';

interface SavedServer {
  url?: string;
  urls?: string[];
  ca?: string;
}

function savedServer(): SavedServer | undefined {
  try {
    return JSON.parse(readFileSync(join(homedir(), '.config', 'baton', 'current.json'), 'utf8')) as SavedServer;
  } catch {
    return undefined;
  }
}

const sameUrl = (a: string, b: string) => a.replace(/\/+$/, '') === b.replace(/\/+$/, '');

export function apiProxy(
  env: NodeJS.ProcessEnv = process.env,
  saved: SavedServer | undefined = savedServer(),
): { target: string; proxy: ProxyOptions; from: string } {
  const given = env.BATON_ADDR?.split(',')[0]?.trim();
  const target = given || saved?.url || BATON_DEV_URL;
  const from = given ? 'BATON_ADDR' : saved?.url ? '~/.config/baton/current.json' : 'the default of `baton dev`';
  const proxy: ProxyOptions = { target, changeOrigin: true };
  if (target.startsWith('https:')) {
    const savedCa = saved?.ca && saved.url && [saved.url, ...(saved.urls ?? [])].some((u) => sameUrl(u, target)) ? saved.ca : undefined;
    const ca = env.BATON_CA_FILE ? readFileSync(env.BATON_CA_FILE, 'utf8') : savedCa;
    if (ca) proxy.ca = ca;
  }
  return { target, proxy, from };
}

export default defineConfig(({ command }) => {
  const api = command === 'serve' ? apiProxy() : undefined;
  if (api) {
    const trust = api.target.startsWith('https:')
      ? api.proxy.ca
        ? ', trusting its cluster CA'
        : ', trusting only the system CAs: set BATON_CA_FILE to the cluster CA (ca.pem)'
      : '';
    console.log(`baton ui: /v1 goes to ${api.target} (from ${api.from}${trust})`);
  }
  return {
    root: here,
    // relative asset URLs: the page works wherever the server is mounted
    base: './',
    plugins: [react()],
    resolve: {
      // the shared client's Node transport and CA pinning: the UI gives it the browser's fetch instead
      alias: [{ find: /^(\.\/transport|\.\.\/tls\/pin)\.js$/, replacement: resolve(here, 'src/node-only.ts') }],
    },
    build: {
      outDir: resolve(here, '../dist/ui'),
      emptyOutDir: true,
      // the package ships dist/: keep it small
      sourcemap: false,
    },
    server: api ? { proxy: { '/v1': api.proxy } } : undefined,
  };
});

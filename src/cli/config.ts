/**
 * Where the CLI finds the server and its token. Precedence, highest first:
 * flags, BATON_ADDR / BATON_TOKEN, `<BATON_DATA_DIR or ./.baton>/server.json`
 * (written by `baton server` in its data dir), `~/.config/baton/current.json`
 * (the last server started on this machine), then https://127.0.0.1:4780.
 *
 * A file is taken as a whole: when server.json exists, current.json is not
 * read, so a url from one server is never paired with another server's token.
 * A saved token and CA belong to the server they came from: they are used only
 * for that server's URL; another --addr needs its own --token (and CA).
 *
 * --addr / BATON_ADDR may list several servers of one cluster, comma-separated
 * (requests fail over between them, src/client/http.ts). The saved token and
 * CA are used for a list only when every URL in it is one the saved file
 * names: its `url`, or one of its `urls` (a file written for several servers
 * of one cluster). A list with any other URL needs --token (and its CA) as a
 * single other URL does.
 * The server is trusted through --ca-file / BATON_CA_FILE, else the CA the
 * saved file names (its PEM, or its fingerprint, checked on first contact).
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { BatonClient } from '../client/client.js';
import { parseFingerprint } from '../tls/fingerprint.js';
import { CliError, type OutputFormat } from './output.js';

export const DEFAULT_URL = 'https://127.0.0.1:4780';

/** What `baton server` writes so that CLIs on the same machine find it without flags. */
export interface ServerInfo {
  url: string;
  /** every server of the cluster, when there are several (url is one of them) */
  urls?: string[];
  joinToken?: string;
  adminToken?: string;
  /** sha256:<hex> of the CA the server's certificate chains to */
  caFingerprint?: string;
  /** that CA's PEM file (server.json) */
  caFile?: string;
  /** that CA's PEM (current.json caches it) */
  ca?: string;
}

export interface ConnectionFlags {
  addr?: string;
  token?: string;
  caFile?: string;
}

export interface Connection {
  /** one server, or several of one cluster: tried in turn when one is unreachable */
  urls: string[];
  token?: string;
  /** PEM of the CA to verify the server with */
  ca?: string;
  /** hex sha256 of the CA to fetch and check when no PEM is at hand */
  caFingerprint?: string;
}

/** The environment resolution reads; tests pass their own. */
export interface ConfigEnv {
  env: NodeJS.ProcessEnv;
  cwd: string;
  home: string;
}

function defaultEnv(): ConfigEnv {
  return { env: process.env, cwd: process.cwd(), home: homedir() };
}

export function configDir(home: string = homedir()): string {
  return join(home, '.config', 'baton');
}

/** ~/.config/baton of the user running the CLI. */
export const CONFIG_DIR = configDir();

export function currentServerFile(home: string = homedir()): string {
  return join(configDir(home), 'current.json');
}

export function dataDir(ctx: Pick<ConfigEnv, 'env' | 'cwd'> = defaultEnv()): string {
  return resolve(ctx.cwd, ctx.env.BATON_DATA_DIR || '.baton');
}

export function serverFile(ctx: Pick<ConfigEnv, 'env' | 'cwd'> = defaultEnv()): string {
  return join(dataDir(ctx), 'server.json');
}

export const NO_TOKEN_HINT =
  'no API token: pass --token <token>, set BATON_TOKEN, or run in the directory where `baton server` wrote .baton/server.json (or set BATON_DATA_DIR to that data dir)';

function readServerInfo(path: string): (ServerInfo & { path: string }) | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(`cannot read ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CliError(`${path} is not valid JSON (${(err as Error).message}); fix or delete it`);
  }
  if (typeof parsed !== 'object' || parsed === null || typeof (parsed as ServerInfo).url !== 'string') {
    throw new CliError(`${path} has no "url" string; fix or delete it`);
  }
  const p = parsed as Record<string, unknown>;
  const str = (k: string): string | undefined => (typeof p[k] === 'string' ? p[k] : undefined);
  if (p.urls !== undefined && (!Array.isArray(p.urls) || !p.urls.every((u) => typeof u === 'string'))) {
    throw new CliError(`${path} has "urls" that is not a list of strings; fix or delete it`);
  }
  return {
    path,
    url: p.url as string,
    ...(p.urls ? { urls: p.urls } : {}),
    joinToken: str('joinToken'),
    adminToken: str('adminToken'),
    caFingerprint: str('caFingerprint'),
    caFile: str('caFile'),
    ca: str('ca'),
  };
}

function readCaFile(path: string, from: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read the CA file ${path} (${from}): ${(err as Error).message}`);
  }
}

/** how the CLI trusts a saved server: its CA PEM, else its file, else its fingerprint */
function savedTrust(file: ServerInfo): Pick<Connection, 'ca' | 'caFingerprint'> {
  if (file.ca) return { ca: file.ca };
  if (file.caFile) {
    try {
      return { ca: readFileSync(file.caFile, 'utf8') };
    } catch {
      /* not readable here: the fingerprint still pins it */
    }
  }
  const fp = file.caFingerprint ? parseFingerprint(file.caFingerprint) : undefined;
  return fp ? { caFingerprint: fp } : {};
}

/**
 * Resolve url and token. Throws a CliError naming the ways to pass a token
 * when none is found, unless `requireToken` is false.
 */
export function resolveConnection(flags: ConnectionFlags, ctx: ConfigEnv = defaultEnv(), requireToken = true): Connection {
  const given = flags.addr || ctx.env.BATON_ADDR || undefined;
  let token = flags.token || ctx.env.BATON_TOKEN || undefined;
  const caFile = flags.caFile || ctx.env.BATON_CA_FILE || undefined;
  const file = readServerInfo(serverFile(ctx)) ?? readServerInfo(currentServerFile(ctx.home));
  const savedUrls = file ? savedServers(file) : [];
  const urls = given !== undefined ? parseUrlList(given, flags.addr ? '--addr' : 'BATON_ADDR') : file ? savedUrls : [DEFAULT_URL];
  // a saved token is the saved servers': sending it to another address would hand it to whoever runs there
  const foreign = urls.filter((u) => !savedUrls.includes(u));
  const saved = file && foreign.length === 0 ? file : undefined;
  if (!token && file?.adminToken && !saved && requireToken) {
    throw new CliError(
      `the admin token saved in ${file.path} belongs to ${savedUrls.join(', ')}, not ${foreign.join(', ')}: a saved token is only sent to its own server. ` +
        `Pass --token (or BATON_TOKEN) for ${urls.join(',')}`,
    );
  }
  token ??= saved?.adminToken;
  if (!token && requireToken) throw new CliError(NO_TOKEN_HINT);
  const trust = caFile ? { ca: readCaFile(caFile, flags.caFile ? '--ca-file' : 'BATON_CA_FILE') } : saved ? savedTrust(saved) : {};
  return { urls, token, ...trust };
}

/** the servers a saved file names: its url, then the others of its urls */
function savedServers(file: ServerInfo): string[] {
  return [...new Set([file.url, ...(file.urls ?? [])].map(normalizeUrl))];
}

/**
 * `url1,url2,...`: the servers of one cluster, each normalized as one would be,
 * in the order given, without repeats. `what` names the flag in the error.
 */
export function parseUrlList(text: string, what: string): string[] {
  const urls = [
    ...new Set(
      text
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean)
        .map(normalizeUrl),
    ),
  ];
  if (urls.length === 0) throw new CliError(`${what} "${text}" names no server URL (e.g. https://10.0.0.5:4780, or several comma-separated)`);
  return urls;
}

/** `host:port` is accepted as `https://host:port`; trailing slashes go. */
export function normalizeUrl(url: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `https://${url}`;
  return withScheme.replace(/\/+$/, '');
}

/** Record the running server for CLIs of this user; the file holds secrets, hence 0600. */
export function writeCurrentServerFile(info: ServerInfo, home: string = homedir()): string {
  const dir = configDir(home);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, 'current.json');
  // write then rename so a CLI never reads a half-written file
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  return path;
}

/** Options every command sees: the global ones merged with its own. */
export interface GlobalOptions extends ConnectionFlags {
  output: OutputFormat;
}

export const CSV_UNSUPPORTED = '-o csv is only for listings of runs (baton job status JOB -o csv); use -o table or -o json here';

/** `csv: true` for the commands that list runs; every other command refuses -o csv with a hint. */
export function globalOptions(cmd: Command, allow: { csv?: boolean } = {}): GlobalOptions {
  const o = cmd.optsWithGlobals<Partial<GlobalOptions>>();
  if (o.output === 'csv' && !allow.csv) throw new CliError(CSV_UNSUPPORTED);
  const output: OutputFormat = o.output === 'json' || o.output === 'csv' ? o.output : 'table';
  return { addr: o.addr, token: o.token, caFile: o.caFile, output };
}

export function clientFor(cmd: Command): BatonClient {
  // only the connection is read here; whether -o csv fits is the command's call
  const { urls, token, ca, caFingerprint } = resolveConnection(globalOptions(cmd, { csv: true }));
  return new BatonClient({ baseUrl: urls, token, ca, caFingerprint });
}

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
  url: string;
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
  const str = (k: string): string | undefined => (typeof p[k] === 'string' ? (p[k] as string) : undefined);
  return {
    path,
    url: p.url as string,
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
export function resolveConnection(
  flags: ConnectionFlags,
  ctx: ConfigEnv = defaultEnv(),
  requireToken = true,
): Connection {
  const given = flags.addr || ctx.env.BATON_ADDR || undefined;
  let token = flags.token || ctx.env.BATON_TOKEN || undefined;
  const caFile = flags.caFile || ctx.env.BATON_CA_FILE || undefined;
  const file = readServerInfo(serverFile(ctx)) ?? readServerInfo(currentServerFile(ctx.home));
  const url = normalizeUrl(given ?? file?.url ?? DEFAULT_URL);
  // a saved token is the saved server's: sending it to another address would hand it to whoever runs there
  const saved = file && normalizeUrl(file.url) === url ? file : undefined;
  if (!token && file?.adminToken && !saved && requireToken) {
    throw new CliError(
      `the admin token saved in ${file.path} belongs to ${file.url}, not ${url}: a saved token is only sent to its own server. ` +
        `Pass --token (or BATON_TOKEN) for ${url}`,
    );
  }
  token ??= saved?.adminToken;
  if (!token && requireToken) throw new CliError(NO_TOKEN_HINT);
  const trust = caFile ? { ca: readCaFile(caFile, flags.caFile ? '--ca-file' : 'BATON_CA_FILE') } : saved ? savedTrust(saved) : {};
  return { url, token, ...trust };
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
  const o = cmd.optsWithGlobals() as Partial<GlobalOptions>;
  if (o.output === 'csv' && !allow.csv) throw new CliError(CSV_UNSUPPORTED);
  const output: OutputFormat = o.output === 'json' || o.output === 'csv' ? o.output : 'table';
  return { addr: o.addr, token: o.token, caFile: o.caFile, output };
}

export function clientFor(cmd: Command): BatonClient {
  // only the connection is read here; whether -o csv fits is the command's call
  const { url, token, ca, caFingerprint } = resolveConnection(globalOptions(cmd, { csv: true }));
  return new BatonClient({ baseUrl: url, token, ca, caFingerprint });
}

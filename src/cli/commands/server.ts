/** `baton server`: the state server (embedded SQLite, or PostgreSQL shared by several servers), and `baton server status`. */
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { parseDuration, parseMemory } from '../../spec/units.js';
import { createLogger, LOG_FORMATS, LOG_LEVELS, type LogFormat } from '../../util/logger.js';
import type { ServerEntry } from '../../api/types.js';
import { clientFor, globalOptions, writeCurrentServerFile, type ServerInfo } from '../config.js';
import { age, CliError, printJson, printTable, renderFields } from '../output.js';
import type { TableView } from '../paging.js';
import { packageVersion } from '../version.js';

export const DEFAULT_PORT = 4780;

export function parseBind(bind: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*))(?::(\d+))?$/.exec(bind);
  const port = m?.[3] !== undefined ? Number(m[3]) : DEFAULT_PORT;
  if (!m || port > 65535) throw new CliError(`--bind "${bind}" is not host:port (e.g. 127.0.0.1:4780 or 0.0.0.0:4780)`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export function unitOption<T>(flag: string, parse: (v: string) => T): (v: string) => T {
  return (v) => {
    try {
      return parse(v);
    } catch (err) {
      throw new CliError(`${flag}: ${(err as Error).message}`);
    }
  };
}

const SERVER_VIEW: TableView<ServerEntry> = {
  headers: ['ID', 'URL', 'LEADER', 'VERSION', 'STARTED', 'SEEN'],
  row: (x) => [x.id, x.url, x.leader ? 'leader' : '-', x.version, age(x.startedAt), age(x.seenAt)],
};

export function registerServerCommand(program: Command): void {
  const server = program
    .command('server')
    .description('Start the state server (HTTP API, scheduler; embedded SQLite store, or PostgreSQL shared by several servers)')
    .option('--data-dir <dir>', 'where the store (on SQLite), the CA, the keys and server.json live', process.env.BATON_DATA_DIR || '.baton')
    .option(
      '--store <url>',
      'where the state lives: sqlite:///path/baton.db (default: <data-dir>/baton.db) or postgres://user:pass@host:5432/db, which several servers can share (default: $BATON_STORE_URL)',
    )
    .addOption(
      new Option('--leader-ttl <duration>', 'several servers: the leader lease; when the leader dies another leads within about this')
        .argParser(unitOption('--leader-ttl', parseDuration))
        .default(4_000, '4s'),
    )
    .option('--bind <host:port>', 'address to listen on', `127.0.0.1:${DEFAULT_PORT}`)
    .addOption(
      new Option('--heartbeat-ttl <duration>', 'a node whose heartbeats stop this long is marked down')
        .argParser(unitOption('--heartbeat-ttl', parseDuration))
        .default(15_000, '15s'),
    )
    .addOption(
      new Option('--log-cap <size>', 'task output kept per task and stream; older output is dropped')
        .argParser(unitOption('--log-cap', parseMemory))
        .default(4 * 1024 * 1024, '4Mi'),
    )
    .addOption(
      new Option('--retention <duration>', 'finished evals, replaced allocs and ended jobs are garbage collected after this')
        .argParser(unitOption('--retention', parseDuration))
        .default(24 * 3600_000, '24h'),
    )
    .addOption(
      new Option('--sweep-retention <duration>', "a sweep whose runs all ended this long ago is collected with its runs' results and logs")
        .argParser(unitOption('--sweep-retention', parseDuration))
        .default(7 * 24 * 3600_000, '7d'),
    )
    .addOption(new Option('--log-level <level>', 'server log level').choices(LOG_LEVELS).default('info'))
    .addOption(
      new Option('--log-format <format>', 'pretty: readable lines; json: JSON lines (default: pretty when stderr is a terminal, else json)')
        .choices(LOG_FORMATS)
        .env('BATON_LOG_FORMAT'),
    )
    .option('--insecure-http', 'serve plain HTTP instead of HTTPS: tokens, secrets and logs cross the network readable by anyone on the path')
    .option(
      '--tls-san <name>',
      'another DNS name or IP address for the server certificate (repeatable)',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option('--tls-cert <file>', "serve this certificate (PEM) instead of baton's own; needs --tls-key and --tls-ca")
    .option('--tls-key <file>', 'the private key (PEM) of --tls-cert')
    .option('--tls-ca <file>', 'the CA certificate (PEM) that signed --tls-cert; join tokens pin it')
    .option('--tls-ca-key <file>', 'the key of --tls-ca, to sign node certificates with it (default: the cluster CA in the data dir signs them)')
    .option('--secrets-key-file <path>', 'the key secrets are encrypted with (64 hex digits, mode 0600); default <data-dir>/secrets.key, made on first start')
    .option('--secrets-previous-key-file <path>', 'rotating the secrets key: re-encrypt the secrets sealed with this old key with the current one at start')
    .action(
      async (
        opts: {
          dataDir: string;
          store?: string;
          leaderTtl: number;
          bind: string;
          heartbeatTtl: number;
          logCap: number;
          retention: number;
          sweepRetention: number;
          logLevel: string;
          logFormat?: LogFormat;
          secretsKeyFile?: string;
          secretsPreviousKeyFile?: string;
        } & TlsFlags,
      ) => {
        const { host, port } = parseBind(opts.bind);
        const dataDir = resolve(opts.dataDir);
        const logger = createLogger(opts.logLevel, 'server', opts.logFormat);
        // loaded here, not at the top: every other command starts faster without the server's modules
        const { startServer } = await import('../../server/server.js');
        const storeUrl = opts.store ?? (process.env.BATON_STORE_URL || undefined);
        const server = await startServer({
          dataDir,
          host,
          port,
          store: storeUrl,
          leaderTtlMs: opts.leaderTtl,
          heartbeatTtlMs: opts.heartbeatTtl,
          logCapBytes: opts.logCap,
          logger,
          version: packageVersion(),
          gc: { retentionMs: opts.retention, sweepRetentionMs: opts.sweepRetention },
          ...(opts.secretsKeyFile ? { secretsKeyFile: resolve(opts.secretsKeyFile) } : {}),
          ...(opts.secretsPreviousKeyFile ? { secretsPreviousKeyFile: resolve(opts.secretsPreviousKeyFile) } : {}),
          insecureHttp: opts.insecureHttp === true,
          tls: tlsOptions(opts),
        });
        writeCurrentServerFile(currentInfo(server));
        if (opts.insecureHttp) {
          const warning =
            'WARNING: --insecure-http: plain HTTP, nothing is encrypted; tokens, node secrets and logs can be read and replayed by anyone on the path';
          logger.warn(warning);
          process.stdout.write(`${warning}\n`);
        }
        process.stdout.write(startBanner(server, dataDir, server.store.location).join('\n') + '\n');
        await waitForSignal();
        logger.info('shutting down');
        await server.close();
      },
    );

  server
    .command('status')
    .description('Show the servers of the cluster, which one leads and since when')
    .action(async (_opts: unknown, cmd: Command) => {
      const g = globalOptions(cmd);
      const st = await clientFor(cmd).status();
      if (g.output === 'json') return printJson(st);
      process.stdout.write(
        renderFields([
          ['Store', st.store],
          ['Index', st.index],
          ['Answered by', st.serverId || '-'],
          [
            'Leader',
            st.leaderId ? `${st.leaderId} since ${st.leaderSince} (${age(st.leaderSince)} ago, epoch ${st.leaderEpoch})` : 'none: the lead is changing hands',
          ],
        ]) + '\n\n',
      );
      printTable(SERVER_VIEW.headers, st.servers.map(SERVER_VIEW.row));
    });
}

export interface TlsFlags {
  insecureHttp?: boolean;
  tlsSan: string[];
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  tlsCaKey?: string;
}

function tlsOptions(f: TlsFlags): { sans: string[]; certFile?: string; keyFile?: string; caFile?: string; caKeyFile?: string } {
  const abs = (p: string | undefined): string | undefined => (p ? resolve(p) : undefined);
  return { sans: f.tlsSan, certFile: abs(f.tlsCert), keyFile: abs(f.tlsKey), caFile: abs(f.tlsCa), caKeyFile: abs(f.tlsCaKey) };
}

/** what ~/.config/baton/current.json keeps: the URL, the tokens and the CA (its PEM cached) */
export function currentInfo(server: { url: string; joinToken: string; adminToken: string; caFingerprint?: string; tls?: { caPem: string } }): ServerInfo {
  return { url: server.url, joinToken: server.joinToken, adminToken: server.adminToken, caFingerprint: server.caFingerprint, ca: server.tls?.caPem };
}

/**
 * The tokens are shown once, on the start that made them; later starts say
 * where they are, so a log collecting stdout does not keep copying them.
 */
export function startBanner(
  server: { url: string; joinToken: string; adminToken: string; caFingerprint?: string; firstStart: boolean },
  dataDir: string,
  store = `sqlite in ${dataDir}`,
): string[] {
  const lines = [`baton server listening on ${server.url} (store: ${store})`];
  if (server.caFingerprint) lines.push(`cluster CA:  ${server.caFingerprint} (${dataDir}/ca.pem)`);
  if (server.firstStart) {
    lines.push(
      `join token:  ${server.joinToken}`,
      `admin token: ${server.adminToken}`,
      '',
      `join a machine:  BATON_JOIN_TOKEN=<join token> baton agent --server ${server.url}   (or --token-file FILE)`,
      `use the CLI:     the URL, tokens and CA are in ${dataDir}/server.json (mode 0600); shown only on this first start`,
    );
  } else {
    lines.push(
      '',
      `the join and admin tokens are in ${dataDir}/server.json (mode 0600), shown only on the first start`,
      `join a machine:  BATON_JOIN_TOKEN=<joinToken from server.json> baton agent --server ${server.url}`,
    );
  }
  lines.push('');
  return lines;
}

export function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((res) => {
    const on = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      res(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

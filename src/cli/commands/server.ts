/** `baton server`: the state server on its embedded SQLite store. */
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { parseDuration, parseMemory } from '../../spec/units.js';
import { createLogger, LOG_LEVELS } from '../../util/logger.js';
import { writeCurrentServerFile } from '../config.js';
import { CliError } from '../output.js';
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

export function registerServerCommand(program: Command): void {
  program
    .command('server')
    .description('Start the state server (embedded SQLite store, HTTP API, scheduler)')
    .option('--data-dir <dir>', 'where the store and server.json live', process.env.BATON_DATA_DIR || '.baton')
    .option('--bind <host:port>', 'address to listen on', `127.0.0.1:${DEFAULT_PORT}`)
    .addOption(new Option('--heartbeat-ttl <duration>', 'a node whose heartbeats stop this long is marked down').argParser(unitOption('--heartbeat-ttl', parseDuration)).default(15_000, '15s'))
    .addOption(new Option('--log-cap <size>', 'task output kept per task and stream; older output is dropped').argParser(unitOption('--log-cap', parseMemory)).default(4 * 1024 * 1024, '4Mi'))
    .addOption(new Option('--retention <duration>', 'finished evals, replaced allocs and ended jobs are garbage collected after this').argParser(unitOption('--retention', parseDuration)).default(24 * 3600_000, '24h'))
    .addOption(new Option('--sweep-retention <duration>', "a sweep whose runs all ended this long ago is collected with its runs' results and logs").argParser(unitOption('--sweep-retention', parseDuration)).default(7 * 24 * 3600_000, '7d'))
    .addOption(new Option('--log-level <level>', 'server log level').choices(LOG_LEVELS).default('info'))
    .option('--secrets-key-file <path>', 'the key secrets are encrypted with (64 hex digits, mode 0600); default <data-dir>/secrets.key, made on first start')
    .action(async (opts: { dataDir: string; bind: string; heartbeatTtl: number; logCap: number; retention: number; sweepRetention: number; logLevel: string; secretsKeyFile?: string }) => {
      const { host, port } = parseBind(opts.bind);
      const dataDir = resolve(opts.dataDir);
      const logger = createLogger(opts.logLevel, 'server');
      // loaded here, not at the top: every other command starts faster without the server's modules
      const { startServer } = await import('../../server/server.js');
      const server = await startServer({
        dataDir, host, port, heartbeatTtlMs: opts.heartbeatTtl, logCapBytes: opts.logCap, logger, version: packageVersion(),
        gc: { retentionMs: opts.retention, sweepRetentionMs: opts.sweepRetention },
        ...(opts.secretsKeyFile ? { secretsKeyFile: resolve(opts.secretsKeyFile) } : {}),
      });
      writeCurrentServerFile({ url: server.url, joinToken: server.joinToken, adminToken: server.adminToken });
      process.stdout.write(
        [
          `baton server listening on ${server.url} (store: sqlite in ${dataDir})`,
          `join token:  ${server.joinToken}`,
          `admin token: ${server.adminToken}`,
          '',
          `join a machine:  baton agent --server ${server.url} --token ${server.joinToken}`,
          `use the CLI:     the URL and admin token are in ${dataDir}/server.json (mode 0600)`,
          '',
        ].join('\n'),
      );
      await waitForSignal();
      logger.info('shutting down');
      await server.close();
    });
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

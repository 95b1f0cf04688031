/**
 * `baton dev`: a server and one local agent in one process on a fresh data
 * directory, for trying baton in one command. `--run FILE --once` submits a
 * job, follows it, prints its logs and exits with its outcome.
 */
import { chmod, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { BatonClient } from '../../client/client.js';
import type { RunningServer } from '../../server/server.js';
import { createLogger, LOG_FORMATS, LOG_LEVELS, type LogFormat } from '../../util/logger.js';
import { writeCurrentServerFile } from '../config.js';
import { printAllocLogs, watchJob } from '../follow.js';
import { CliError } from '../output.js';
import { packageVersion } from '../version.js';
import { currentInfo, DEFAULT_PORT, parseBind, waitForSignal } from './server.js';

interface DevFlags {
  dataDir?: string;
  bind: string;
  run?: string;
  once?: boolean;
  logLevel: string;
  logFormat?: LogFormat;
}

export function registerDevCommand(program: Command): void {
  program
    .command('dev')
    .description('Run a server and a local agent in one process on a fresh data directory (for trying baton)')
    .option('--data-dir <dir>', 'data directory (default: a new temporary directory)')
    .option(
      '--bind <host:port>',
      'address to listen on; a free port is used when this one is taken; plain HTTP on loopback, HTTPS elsewhere',
      `127.0.0.1:${DEFAULT_PORT}`,
    )
    .option('--run <file>', 'submit this job file once the agent is ready')
    .option('--once', 'with --run: wait for the job, print its logs, stop everything and exit with its outcome')
    .addOption(new Option('--log-level <level>', 'log level of server and agent').choices(LOG_LEVELS).default('warn'))
    .addOption(
      new Option('--log-format <format>', 'pretty: readable lines; json: JSON lines (default: pretty when stderr is a terminal, else json)')
        .choices(LOG_FORMATS)
        .env('BATON_LOG_FORMAT'),
    )
    .action(async (flags: DevFlags) => {
      if (flags.once && !flags.run) throw new CliError('--once needs --run FILE: the job to run once');
      const dataDir = flags.dataDir ? resolve(flags.dataDir) : await mkdtemp(join(tmpdir(), 'baton-dev-'));
      // tasks run as nobody and pass through to their dirs under it (the server's own dir is 0700)
      if (!flags.dataDir) await chmod(dataDir, 0o711);
      const logger = createLogger(flags.logLevel, 'dev', flags.logFormat);
      const { host, port } = parseBind(flags.bind);
      // loaded here, not at the top: every other command starts faster without these modules
      const [{ startServer }, { startAgent }] = await Promise.all([import('../../server/server.js'), import('../../agent/agent.js')]);
      // plain HTTP only where nothing crosses a network: loopback; any other address gets TLS as `baton server` does
      const loopback = host === 'localhost' || host === '::1' || host.startsWith('127.');
      if (loopback) process.stderr.write('warning: baton dev serves plain HTTP on loopback (no TLS); `baton server` serves HTTPS\n');
      const common = {
        dataDir: join(dataDir, 'server'),
        host,
        insecureHttp: loopback,
        heartbeatTtlMs: 15_000,
        logCapBytes: 4 * 1024 * 1024,
        logger: logger.child({ name: 'server' }),
        version: packageVersion(),
      };
      let server: RunningServer;
      try {
        server = await startServer({ ...common, port });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
        server = await startServer({ ...common, port: 0 });
      }
      writeCurrentServerFile(currentInfo(server));
      const agent = await startAgent({
        serverUrl: server.url,
        joinToken: server.joinToken,
        dataDir: join(dataDir, 'agent'),
        name: 'dev',
        logger: logger.child({ name: 'agent' }),
      });
      const out = (line: string): void => void process.stdout.write(`${line}\n`);
      out(`baton dev: server ${server.url}, node ${agent.nodeId}, data in ${dataDir}`);
      const client = new BatonClient({ baseUrl: server.url, token: server.adminToken, ca: server.tls?.caPem });
      const shutdown = async (): Promise<void> => {
        // dev owns its tasks: stop them rather than leave orphans behind
        // only the jobs and allocs still alive are read: a dev session may have left a large sweep behind
        for (const status of ['pending', 'running'] as const) {
          try {
            for await (const j of client.jobs('*', { status, limit: 1000 })) await client.stopJob(j.id, j.namespace).catch(() => undefined);
          } catch {
            // the server may be going away already; the agent stops its tasks on close
          }
        }
        const anyAlive = async (): Promise<boolean> => {
          for (const status of ['pending', 'running']) {
            const page = await client.allocsPage({ status, limit: 1 }).catch(() => ({ items: [] }));
            if (page.items.length > 0) return true;
          }
          return false;
        };
        const deadline = Date.now() + 15_000;
        while (Date.now() < deadline && (await anyAlive())) await new Promise((r) => setTimeout(r, 200));
        await agent.close();
        await server.close();
      };

      if (flags.run) {
        const source = await readFile(flags.run, 'utf8').catch((err: NodeJS.ErrnoException) => {
          throw new CliError(err.code === 'ENOENT' ? `job file ${flags.run} does not exist` : `cannot read ${flags.run}: ${err.message}`);
        });
        const res = await client.submitJob(source, basename(flags.run));
        for (const w of res.warnings) process.stderr.write(`warning: ${w}\n`);
        out(`job ${res.job.id} version ${res.job.version} submitted`);
        if (flags.once) {
          const result = await watchJob(client, res.job.id, res.job.namespace, { out, evalId: res.evalId, version: res.job.version });
          const detail = await client.getJob(res.job.id, res.job.namespace);
          for (const a of detail.allocs.filter((x) => x.jobVersion === res.job.version)) await printAllocLogs(client, a, out);
          out(`job ${res.job.id}: ${result.status}`);
          await shutdown();
          process.exitCode = result.ok ? 0 : 1;
          return;
        }
      }
      out(`the CLI finds this server by itself (~/.config/baton/current.json); try: baton node ls`);
      out('press Ctrl-C to stop');
      await waitForSignal();
      await shutdown();
    });
}

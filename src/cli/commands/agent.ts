/** `baton agent`: join this machine to a server as a node and run its work. */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { DEFAULT_PORT_RANGE, parsePortRange, parseVolumeFlags } from '../../agent/fingerprint.js';
import { parseCpu, parseMemory } from '../../spec/units.js';
import { createLogger, LOG_FORMATS, LOG_LEVELS, type LogFormat } from '../../util/logger.js';
import { parseUrlList } from '../config.js';
import { CliError } from '../output.js';
import { DOCKER_ALLOWANCES, type DockerAllowance } from '../../spec/allowances.js';
import { unitOption, waitForSignal } from './server.js';

export interface AgentFlags {
  server?: string;
  token?: string;
  tokenFile?: string;
  dataDir: string;
  name?: string;
  cpu?: number;
  memory?: number;
  reserveCpu?: number;
  reserveMemory?: number;
  drivers?: string;
  class?: string;
  datacenter: string;
  label: string[];
  address?: string;
  volume: string[];
  portRange: string;
  logLevel: string;
  logFormat?: LogFormat;
  taskUser: string;
  allowRoot?: boolean;
  allow: string[];
  allowHostPath: string[];
}

/** `--allow privileged,host-network` (repeatable) into the kinds, with what is wrong and what is known */
export function parseAllow(list: string[]): DockerAllowance[] {
  const out = new Set<DockerAllowance>();
  for (const item of list
    .flatMap((l) => l.split(','))
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (!(DOCKER_ALLOWANCES as readonly string[]).includes(item)) throw new CliError(`--allow "${item}" is not one of ${DOCKER_ALLOWANCES.join(', ')}`);
    out.add(item as DockerAllowance);
  }
  return [...out];
}

export function parseHostPaths(list: string[]): string[] {
  const out = list
    .flatMap((l) => l.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  for (const p of out)
    if (!p.startsWith('/') || p.includes('\0')) throw new CliError(`--allow-host-path "${p}" is not an absolute path (e.g. --allow-host-path /data)`);
  return out;
}

export function parseLabels(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list) {
    const i = l.indexOf('=');
    if (i <= 0) throw new CliError(`--label "${l}" is not key=value (e.g. --label zone=eu-1)`);
    out[l.slice(0, i)] = l.slice(i + 1);
  }
  return out;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** --token-file, else $BATON_JOIN_TOKEN, else --token (with a warning: argv is public) */
export async function readJoinToken(
  flags: Pick<AgentFlags, 'token' | 'tokenFile'>,
  globalToken: string | undefined,
  logger: { warn(msg: string): void },
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  if (flags.tokenFile) {
    let text: string;
    try {
      text = await readFile(flags.tokenFile, 'utf8');
    } catch (err) {
      throw new CliError(`--token-file ${flags.tokenFile}: ${(err as Error).message}`);
    }
    const token = text.trim();
    if (!token) throw new CliError(`--token-file ${flags.tokenFile} is empty: put the join token from the server's server.json in it`);
    return token;
  }
  const arg = flags.token ?? globalToken;
  if (arg) {
    logger.warn('the join token was given with --token: every user of this machine can read it in `ps`; use --token-file FILE or BATON_JOIN_TOKEN');
    return arg;
  }
  return env.BATON_JOIN_TOKEN || undefined;
}

export function registerAgentCommand(program: Command): void {
  program
    .command('agent')
    .description('Join this machine to a baton server as a node and run the work placed on it')
    .option(
      '--server <urls>',
      'URL of the baton server, or several servers of one cluster comma-separated: the agent moves to the next when its server does not answer (default: $BATON_ADDR)',
    )
    .option('--token-file <file>', 'a file holding the join token printed by `baton server` (needed for the first start only)')
    .option('--token <join-token>', 'the join token on the command line: every user of this machine sees it in `ps`; prefer --token-file or $BATON_JOIN_TOKEN')
    .option('--data-dir <dir>', 'where the node secret and task state live', process.env.BATON_AGENT_DATA_DIR || '.baton/agent')
    .option('--name <name>', 'node name (default: the host name)')
    .option('--cpu <cores>', 'declare the cpu capacity instead of detecting it (e.g. 4 or 3500m)', unitOption('--cpu', parseCpu))
    .option('--memory <size>', 'declare the memory capacity instead of detecting it (e.g. 16Gi)', unitOption('--memory', parseMemory))
    .option('--reserve-cpu <cores>', 'cpu kept for other software on this machine', unitOption('--reserve-cpu', parseCpu))
    .option('--reserve-memory <size>', 'memory kept for other software on this machine', unitOption('--reserve-memory', parseMemory))
    .option('--drivers <list>', 'only these drivers, comma-separated (default: every driver that works here)')
    .option('--class <class>', 'node class, for constraints like ${node.class} = gpu')
    .option('--datacenter <dc>', 'datacenter name', 'dc1')
    .option('--label <key=value>', 'a label for constraints (repeatable)', collect, [])
    .option('--address <ip>', "the address other machines reach this node's task ports at (default: the first non-internal IPv4, else 127.0.0.1)")
    .option('--volume <name=/path[:ro]>', 'offer a host directory to tasks as a volume; :ro makes it read-only (repeatable)', collect, [])
    .option('--port-range <from-to>', 'host ports handed out as dynamic ports', `${DEFAULT_PORT_RANGE.from}-${DEFAULT_PORT_RANGE.to}`)
    .option('--task-user <user>', 'the user exec tasks without `user:` run as (a name or uid; needs the agent to run as root)', 'nobody')
    .option('--allow-root', 'let exec tasks run as root (`user: root`); off: they are never placed here')
    .option('--allow <kinds>', `let docker tasks ask for these, comma-separated (repeatable): ${DOCKER_ALLOWANCES.join(', ')}`, collect, [])
    .option(
      '--allow-host-path <prefixes>',
      'let docker tasks bind host paths under these prefixes, comma-separated (repeatable), e.g. /data,/scratch',
      collect,
      [],
    )
    .addOption(new Option('--log-level <level>', 'agent log level').choices(LOG_LEVELS).default('info'))
    .addOption(
      new Option('--log-format <format>', 'pretty: readable lines; json: JSON lines (default: pretty when stderr is a terminal, else json)')
        .choices(LOG_FORMATS)
        .env('BATON_LOG_FORMAT'),
    )
    .action(async (flags: AgentFlags, cmd: Command) => {
      // the global --token is the API token; here it is the join token, both spellings end up in one place
      const globals = cmd.optsWithGlobals<{ token?: string; addr?: string }>();
      const given = flags.server ?? globals.addr ?? process.env.BATON_ADDR;
      if (!given)
        throw new CliError(
          '--server is required: the URL `baton server` printed, e.g. --server https://10.0.0.5:4780 (several servers of one cluster: comma-separated)',
        );
      const servers = parseUrlList(given, flags.server !== undefined ? '--server' : globals.addr !== undefined ? '--addr' : 'BATON_ADDR');
      // before anything slow (the agent's modules take seconds to load on a busy machine): from here on
      // the node's watchdog leaves the tasks of the agent before this one to this process
      const [{ takeOverLease }, { monotonicMs }] = await Promise.all([import('../../agent/lease.js'), import('../../agent/contact.js')]);
      const priorLease = await takeOverLease(resolve(flags.dataDir), monotonicMs()).catch(() => undefined);
      if (flags.address !== undefined && !isIP(flags.address))
        throw new CliError(`--address "${flags.address}" is not an IP address (e.g. --address 10.0.0.7)`);
      let portRange, volumes;
      try {
        portRange = parsePortRange(flags.portRange);
        volumes = await parseVolumeFlags(flags.volume);
      } catch (err) {
        throw new CliError((err as Error).message);
      }
      const logger = createLogger(flags.logLevel, 'agent', flags.logFormat);
      const joinToken = await readJoinToken(flags, globals.token, logger);
      // loaded here, not at the top: every other command starts faster without the agent's modules
      const { startAgent } = await import('../../agent/agent.js');
      const agent = await startAgent({
        serverUrl: servers,
        joinToken,
        dataDir: resolve(flags.dataDir),
        name: flags.name,
        cpu: flags.cpu,
        memory: flags.memory,
        reserveCpu: flags.reserveCpu,
        reserveMemory: flags.reserveMemory,
        drivers: flags.drivers
          ? flags.drivers
              .split(',')
              .map((d) => d.trim())
              .filter(Boolean)
          : undefined,
        nodeClass: flags.class,
        datacenter: flags.datacenter,
        labels: parseLabels(flags.label),
        address: flags.address,
        volumes,
        portRange,
        taskUser: flags.taskUser,
        allowRoot: flags.allowRoot === true,
        allow: parseAllow(flags.allow),
        allowHostPaths: parseHostPaths(flags.allowHostPath),
        logger,
        priorLease: { lease: priorLease },
      });
      process.stdout.write(`baton agent running as node ${agent.nodeId} on ${servers.join(', ')}\n`);
      await waitForSignal();
      logger.info('agent stopping; tasks keep running and are re-attached on the next start');
      await agent.close();
    });
}

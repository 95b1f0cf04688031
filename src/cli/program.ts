/**
 * The `baton` command tree: every command and option, registered in the
 * order --help lists them.
 *
 * People run the CLI hundreds of times a day and from scripts in loops, so a
 * command loads only its own module: the word naming the command is found in
 * argv before anything else is imported, and only that command is registered.
 * The top-level help (and a mistyped command, for the suggestion) needs them
 * all; `--version` needs none.
 */
import { Command, Option } from 'commander';
import { packageVersion } from './version.js';

type Register = (program: Command) => void;

interface CommandEntry {
  /** the command's name and top-level aliases */
  names: readonly string[];
  load: () => Promise<Register>;
}

/** in --help order; a command whose module adds to another's (deployment adds `job history`) loads both */
const COMMANDS: readonly CommandEntry[] = [
  { names: ['run'], load: async () => (await import('./commands/run.js')).registerRunCommand },
  { names: ['dispatch'], load: async () => (await import('./commands/dispatch.js')).registerDispatchCommand },
  { names: ['deploy'], load: async () => (await import('./commands/deploy.js')).registerDeployCommand },
  { names: ['stack'], load: async () => (await import('./commands/stack.js')).registerStackCommand },
  { names: ['job'], load: async () => (await import('./commands/job.js')).registerJobCommand },
  { names: ['deployment', 'deployments', 'job'], load: async () => (await import('./commands/deployment.js')).registerDeploymentCommand },
  { names: ['node'], load: async () => (await import('./commands/node.js')).registerNodeCommand },
  { names: ['alloc'], load: async () => (await import('./commands/alloc.js')).registerAllocCommand },
  { names: ['logs'], load: async () => (await import('./commands/logs.js')).registerLogsCommand },
  { names: ['events'], load: async () => (await import('./commands/events.js')).registerEventsCommand },
  { names: ['service'], load: async () => (await import('./commands/service.js')).registerServiceCommand },
  { names: ['server'], load: async () => (await import('./commands/server.js')).registerServerCommand },
  { names: ['agent'], load: async () => (await import('./commands/agent.js')).registerAgentCommand },
  { names: ['dev'], load: async () => (await import('./commands/dev.js')).registerDevCommand },
  { names: ['system'], load: async () => (await import('./commands/system.js')).registerSystemCommand },
  { names: ['token'], load: async () => (await import('./commands/token.js')).registerTokenCommand },
  { names: ['secret'], load: async () => (await import('./commands/secret.js')).registerSecretCommand },
];

/** the global options that take a value, so the word after them is not the command */
const VALUE_OPTIONS = new Set(['--addr', '--token', '--ca-file', '-o', '--output']);

/**
 * What argv (without node and the script) asks for: a command's name, none
 * (only global options such as --version), or undefined when that cannot be
 * told without the whole tree (help, a mistyped command).
 */
export function commandWord(args: readonly string[]): string | null | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') return undefined;
    if (VALUE_OPTIONS.has(a)) {
      i++;
      continue;
    }
    if (a === '-h' || a === '--help') return undefined;
    if (a.startsWith('-')) continue;
    return COMMANDS.some((c) => c.names.includes(a)) ? a : undefined;
  }
  return null;
}

/**
 * The command tree, without parsing anything: main.ts runs it, tests walk it.
 * With `args` (argv after node and the script), only the command they name
 * is registered; without, every command.
 */
export async function buildProgram(args?: readonly string[]): Promise<Command> {
  const program = new Command();
  program
    .name('baton')
    .description('A small container and job orchestrator: server, agents, and this CLI')
    .version(packageVersion(), '-V, --version', 'print the version of baton')
    .option(
      '--addr <urls>',
      'server URL, or several servers of one cluster comma-separated (tried in turn when one does not answer) (default: $BATON_ADDR, .baton/server.json, ~/.config/baton/current.json, https://127.0.0.1:4780)',
    )
    .option('--token <token>', 'API token (default: $BATON_TOKEN, or the admin token in .baton/server.json)')
    .option(
      '--ca-file <file>',
      "PEM of the CA the server's certificate chains to (default: $BATON_CA_FILE, or the CA saved in server.json/current.json for that server)",
    )
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json', 'csv']).default('table'))
    // subcommand --help then shows --addr/--token/-o too; set before commands are added so they inherit it
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true);

  const word = args === undefined ? undefined : commandWord(args);
  // --version alone: nothing to register (commander answers it before any command runs)
  if (word === null && args!.some((a) => a === '-V' || a === '--version')) return program;
  const wanted = word ? COMMANDS.filter((c) => c.names.includes(word)) : COMMANDS;
  const registers = await Promise.all(wanted.map((c) => c.load()));
  for (const register of registers) register(program);
  return program;
}

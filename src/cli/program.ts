/**
 * The `baton` command tree: every command and option, registered in the
 * order --help lists them.
 */
import { Command, Option } from 'commander';
import { registerAgentCommand } from './commands/agent.js';
import { registerAllocCommand } from './commands/alloc.js';
import { registerDeployCommand } from './commands/deploy.js';
import { registerDeploymentCommand } from './commands/deployment.js';
import { registerDevCommand } from './commands/dev.js';
import { registerDispatchCommand } from './commands/dispatch.js';
import { registerEventsCommand } from './commands/events.js';
import { registerJobCommand } from './commands/job.js';
import { registerLogsCommand } from './commands/logs.js';
import { registerNodeCommand } from './commands/node.js';
import { registerRunCommand } from './commands/run.js';
import { registerServerCommand } from './commands/server.js';
import { registerServiceCommand } from './commands/service.js';
import { registerStackCommand } from './commands/stack.js';
import { registerSystemCommand } from './commands/system.js';
import { registerTokenCommand } from './commands/token.js';
import { registerSecretCommand } from './commands/secret.js';
import { packageVersion } from './version.js';

/** The whole command tree, without parsing anything: main.ts runs it, tests walk it. */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('baton')
    .description('A small container and job orchestrator: server, agents, and this CLI')
    .version(packageVersion(), '-V, --version', 'print the version of baton')
    .option('--addr <urls>', 'server URL, or several servers of one cluster comma-separated (tried in turn when one does not answer) (default: $BATON_ADDR, .baton/server.json, ~/.config/baton/current.json, https://127.0.0.1:4780)')
    .option('--token <token>', 'API token (default: $BATON_TOKEN, or the admin token in .baton/server.json)')
    .option('--ca-file <file>', "PEM of the CA the server's certificate chains to (default: $BATON_CA_FILE, or the CA saved in server.json/current.json for that server)")
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json', 'csv']).default('table'))
    // subcommand --help then shows --addr/--token/-o too; set before commands are added so they inherit it
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true);

  registerRunCommand(program);
  registerDispatchCommand(program);
  registerDeployCommand(program);
  registerStackCommand(program);
  registerJobCommand(program);
  registerDeploymentCommand(program);
  registerNodeCommand(program);
  registerAllocCommand(program);
  registerLogsCommand(program);
  registerEventsCommand(program);
  registerServiceCommand(program);
  registerServerCommand(program);
  registerAgentCommand(program);
  registerDevCommand(program);
  registerSystemCommand(program);
  registerTokenCommand(program);
  registerSecretCommand(program);
  return program;
}

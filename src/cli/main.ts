/**
 * The `baton` command: entry of bin/baton.js. Builds the command tree, runs
 * it, and turns every error into a message and exit code 1 (no stack traces
 * for things the user can fix).
 */
import { CliError, formatError } from './output.js';
import { packageVersion } from './version.js';

const args = process.argv.slice(2);
// scripts ask for the version to decide what to do: it is answered before the command tree is loaded
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`${packageVersion()}\n`);
  process.exit(0);
}
const { buildProgram } = await import('./program.js');
const program = await buildProgram(args);

// `baton logs x | head` closes the pipe early; that is success, not a crash
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

try {
  await program.parseAsync(process.argv);
} catch (err) {
  for (const line of formatError(err)) process.stderr.write(line + '\n');
  if (process.env.BATON_DEBUG && err instanceof Error && !(err instanceof CliError)) {
    process.stderr.write(`${err.stack}\n`);
  }
  process.exitCode = err instanceof CliError ? err.exitCode : 1;
}

/**
 * The `baton` command: entry of bin/baton.js. Builds the command tree, runs
 * it, and turns every error into a message and exit code 1 (no stack traces
 * for things the user can fix).
 */
import { CliError, formatError } from './output.js';

const args = process.argv.slice(2);
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

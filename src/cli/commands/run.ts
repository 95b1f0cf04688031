/**
 * `baton run FILE`: submit a job file, optionally wait for it to finish. A
 * plain submit loads no YAML parser (the server parses the file) and nothing
 * of following: those come with -n and --wait.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { clientFor, globalOptions } from '../config.js';
import { CliError, printJson, shortId } from '../output.js';

function readJobFile(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CliError(`job file ${file} does not exist`);
    if (code === 'EISDIR') throw new CliError(`${file} is a directory; give the path of a job file (YAML or JSON)`);
    throw new CliError(`cannot read job file ${file}: ${(err as Error).message}`);
  }
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('Submit a job file (YAML or JSON; - reads stdin); with --wait, follow it until it ends')
    .argument('<file>', 'the job file')
    .option('--wait', 'follow the job and exit 0 when it completes, 1 when it fails or cannot be placed')
    .option('-n, --namespace <namespace>', 'namespace to submit into (when the file names none)')
    .action(async (file: string, opts: { wait?: boolean; namespace?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      let text = readJobFile(file);
      const name = file === '-' ? 'stdin' : basename(file);
      if (opts.namespace) text = (await import('../job-namespace.js')).withNamespace(text, opts.namespace, name);
      const client = clientFor(cmd);
      const res = await client.submitJob(text, name);
      for (const w of res.warnings) process.stderr.write(`warning: ${w}\n`);
      if (g.output === 'json') printJson(res);
      else process.stdout.write(`job ${res.job.id} version ${res.job.version} submitted (eval ${shortId(res.evalId)})\n`);
      if (!opts.wait) return;
      // with -o json, stdout holds only the JSON document
      const stream = g.output === 'json' ? process.stderr : process.stdout;
      const follow = { evalId: res.evalId, version: res.job.version };
      const { watchJob } = await import('../follow.js');
      let result;
      if (stream.isTTY) {
        // a terminal gets a bar redrawn in place; logs and pipes keep the plain lines
        const [{ createProgressDisplay }, { progressFromJob }] = await Promise.all([import('../progress-display.js'), import('../progress.js')]);
        const display = createProgressDisplay(res.job.id, stream);
        try {
          result = await watchJob(client, res.job.id, res.job.namespace, {
            ...follow,
            out: (l) => display.log(l),
            onProgress: (d) => display.update(progressFromJob(d)),
            onEnd: () => display.finish(),
          });
        } finally {
          display.finish();
        }
      } else {
        result = await watchJob(client, res.job.id, res.job.namespace, { ...follow, out: (l) => void stream.write(l + '\n') });
      }
      if (!result.ok) process.exitCode = 1;
    });
}

/** `baton run FILE`: submit a job file, optionally wait for it to finish. */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { isMap, parseAllDocuments } from 'yaml';
import { clientFor, globalOptions } from '../config.js';
import { watchJob } from '../follow.js';
import { CliError, printJson, shortId } from '../output.js';
import { progressFromJob } from '../progress.js';
import { createProgressDisplay } from '../progress-display.js';

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

/**
 * Put `namespace` into the job text without moving any existing line, so
 * errors the server reports still point at the right line of the user's file.
 * Text the CLI cannot read as one mapping is returned unchanged: the server
 * parses it anyway and says what is wrong, with lines.
 */
export function withNamespace(text: string, namespace: string, file = 'the job file'): string {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs) || docs.length !== 1) return text;
  const doc = docs[0];
  if (doc.errors.length > 0 || !isMap(doc.contents)) return text;
  const existing = doc.get('namespace');
  if (existing !== undefined && existing !== null) {
    const given = typeof existing === 'string' ? existing : JSON.stringify(existing);
    if (given === namespace) return text;
    throw new CliError(
      `${file} sets namespace "${given}" but -n asks for "${namespace}"; drop one of them`,
    );
  }
  const value = JSON.stringify(namespace);
  let patched: string;
  if (doc.contents.flow) {
    // JSON or a YAML flow map: insert right after the opening brace, on the same line
    const brace = text.indexOf('{');
    const sep = doc.contents.items.length > 0 ? ', ' : '';
    patched = `${text.slice(0, brace + 1)}"namespace": ${value}${sep}${text.slice(brace + 1)}`;
  } else {
    patched = `${text}${text.endsWith('\n') || text.length === 0 ? '' : '\n'}namespace: ${value}\n`;
  }
  const check = parseAllDocuments(patched);
  if (
    !Array.isArray(check) ||
    check.length !== 1 ||
    check[0].errors.length > 0 ||
    check[0].get('namespace') !== namespace
  ) {
    throw new CliError(`cannot add the namespace to ${file}; write \`namespace: ${namespace}\` in it instead of using -n`);
  }
  return patched;
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
      if (opts.namespace) text = withNamespace(text, opts.namespace, name);
      const client = clientFor(cmd);
      const res = await client.submitJob(text, name);
      for (const w of res.warnings) process.stderr.write(`warning: ${w}\n`);
      if (g.output === 'json') printJson(res);
      else process.stdout.write(`job ${res.job.id} version ${res.job.version} submitted (eval ${shortId(res.evalId)})\n`);
      if (!opts.wait) return;
      // with -o json, stdout holds only the JSON document
      const stream = g.output === 'json' ? process.stderr : process.stdout;
      const follow = { evalId: res.evalId, version: res.job.version };
      let result;
      if (stream.isTTY) {
        // a terminal gets a bar redrawn in place; logs and pipes keep the plain lines
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

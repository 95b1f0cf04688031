/**
 * `baton dispatch JOB`: start runs of a parameterized job. One run from
 * --meta/--payload, or a sweep: --sweep FILE (a run per row) and/or --matrix
 * (a run per combination). All runs go to the server in one request, which
 * stores all of them or none.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { DispatchResponse, DispatchRun } from '../../api/types.js';
import { BatonApiError } from '../../client/http.js';
import { clientFor, globalOptions } from '../config.js';
import { CliError, printJson, shortId } from '../output.js';
import { createProgressDisplay } from '../progress-display.js';
import { describeRunPath, parseMatrixFlags, parseMetaFlags, parseSweep, planRuns, type PlannedRun } from '../sweep.js';
import { watchRuns } from '../watch-runs.js';

export interface DispatchFlags {
  meta?: string[];
  payload?: string;
  sweep?: string;
  matrix?: string[];
  wait?: boolean;
  namespace?: string;
}

// no default ([]) so that --help does not print `(default: [])`
const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

function readInput(file: string, what: string): Buffer {
  try {
    return readFileSync(file === '-' ? 0 : file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CliError(`${what} ${file} does not exist`);
    if (code === 'EISDIR') throw new CliError(`${what} ${file} is a directory`);
    throw new CliError(`cannot read ${what} ${file}: ${(err as Error).message}`);
  }
}

/** The runs the flags ask for, each with where it came from. Reads the sweep and payload files. */
export function runsFromFlags(flags: DispatchFlags, read: (file: string, what: string) => Buffer = readInput): {
  planned: PlannedRun[];
  runs: DispatchRun[];
} {
  if (flags.sweep === '-' && flags.payload === '-') throw new CliError('--sweep and --payload cannot both read stdin');
  const meta = parseMetaFlags(flags.meta ?? []);
  const matrix = parseMatrixFlags(flags.matrix ?? []);
  const sweep = flags.sweep ? parseSweep(read(flags.sweep, 'sweep file').toString('utf8'), flags.sweep) : undefined;
  const planned = planRuns({ meta, sweep, matrix });
  const payload = flags.payload !== undefined ? read(flags.payload, 'payload file').toString('base64') : undefined;
  const runs = planned.map((p) => (payload !== undefined ? { meta: p.meta, payload } : { meta: p.meta }));
  return { planned, runs };
}

/** A 400 about `runs[12].meta.scenario` names the sweep row it came from instead. */
export function explainDispatchError(err: unknown, planned: PlannedRun[]): unknown {
  if (!(err instanceof BatonApiError) || err.details.length === 0) return err;
  return new BatonApiError(
    err.status,
    err.message,
    err.details.map((d) => ({ ...d, path: describeRunPath(d.path, planned) })),
  );
}

export function dispatchedMessage(jobId: string, res: DispatchResponse): string {
  if (res.jobs.length === 1) return `dispatched ${res.jobs[0]} (sweep ${shortId(res.sweepId)})`;
  return `dispatched ${res.jobs.length} runs of ${jobId} (sweep ${shortId(res.sweepId)})`;
}

export function registerDispatchCommand(program: Command): void {
  program
    .command('dispatch')
    .description(
      'Start runs of a parameterized job: one from --meta/--payload, or a sweep from --sweep FILE and/or --matrix; with --wait, follow them until all end',
    )
    .argument('<job>', 'the parameterized job (its id)')
    .option('--meta <key=value>', 'meta for the run; with --sweep or --matrix, added to every run (repeatable)', collect)
    .option('--payload <file>', 'a file every run receives as $BATON_TASK_DIR/payload (- reads stdin)')
    .option('--sweep <file>', 'one run per row: a CSV whose header names the meta keys, or a YAML/JSON list of objects')
    .option(
      '--matrix <key=values>',
      'a run per combination of the values: ranges (1..50, inclusive) and lists (1,2,3) (repeatable)',
      collect,
    )
    .option('--wait', 'follow the runs; exit 0 when all complete, 1 when any ends otherwise')
    .option('-n, --namespace <namespace>', 'namespace of the job (default: $BATON_NAMESPACE or "default")')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  baton dispatch sim --meta scenario=42 --payload input.json',
        '  baton dispatch sim --sweep params.csv --meta model=v2',
        '  baton dispatch sim --matrix scenario=1..50 --matrix seed=1,2,3 --wait',
      ].join('\n'),
    )
    .action(async (jobId: string, flags: DispatchFlags, cmd: Command) => {
      const g = globalOptions(cmd);
      const namespace = flags.namespace || process.env.BATON_NAMESPACE || 'default';
      const { planned, runs } = runsFromFlags(flags);
      const client = clientFor(cmd);
      let res: DispatchResponse;
      try {
        res = await client.dispatch(jobId, runs, namespace);
      } catch (err) {
        throw explainDispatchError(err, planned);
      }
      if (g.output === 'json') printJson(res);
      else process.stdout.write(dispatchedMessage(jobId, res) + '\n');
      if (!flags.wait) return;
      // with -o json, stdout holds only the JSON document
      const stream = g.output === 'json' ? process.stderr : process.stdout;
      const display = createProgressDisplay(`sweep ${shortId(res.sweepId)}`, stream);
      try {
        const result = await watchRuns(client, jobId, namespace, res.jobs, { display });
        if (!result.ok) process.exitCode = 1;
      } finally {
        display.finish();
      }
    });
}

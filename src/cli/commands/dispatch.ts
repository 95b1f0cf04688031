/**
 * `baton dispatch JOB`: start runs of a parameterized job. One run from
 * --meta/--payload, or a sweep: --sweep FILE (a run per row) and/or --matrix
 * (a run per combination). A sweep of up to MAX_RUNS_PER_DISPATCH runs goes
 * in one request, stored all or none; a larger one is checked in full, then
 * sent in parts of that size (see dispatch-parts.ts).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { BatonApiError } from '../../client/http.js';
import { dispatchRefusal, MAX_RUNS_PER_DISPATCH } from '../../jobs/dispatch.js';
import { clientFor, globalOptions } from '../config.js';
import { defaultNamespace } from '../namespace.js';
import { checkParts, dispatchParts, explainDispatchError, partCount, sendSweep, type SentSweep } from '../dispatch-parts.js';
import { CliError, formatCount, shortId } from '../output.js';
import { createProgressDisplay, createStatusLine } from '../progress-display.js';
import { JsonObjectText, streamSink } from '../stream-out.js';
import { parseMatrixFlags, parseMetaFlags, parseSweep, planRuns, type RunPlan } from '../sweep.js';
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

/** The runs the flags ask for, as a plan (each run made when asked for), and the payload every run gets. Reads the sweep and payload files. */
export function runsFromFlags(
  flags: DispatchFlags,
  read: (file: string, what: string) => Buffer = readInput,
): {
  plan: RunPlan;
  payload?: string;
} {
  if (flags.sweep === '-' && flags.payload === '-') throw new CliError('--sweep and --payload cannot both read stdin');
  const meta = parseMetaFlags(flags.meta ?? []);
  const matrix = parseMatrixFlags(flags.matrix ?? []);
  const sweep = flags.sweep ? parseSweep(read(flags.sweep, 'sweep file').toString('utf8'), flags.sweep) : undefined;
  const plan = planRuns({ meta, sweep, matrix });
  const payload = flags.payload !== undefined ? read(flags.payload, 'payload file').toString('base64') : undefined;
  return payload !== undefined ? { plan, payload } : { plan };
}

export function dispatchedMessage(jobId: string, sent: SentSweep): string {
  if (sent.total === 1 && sent.firstJob) return `dispatched ${sent.firstJob} (sweep ${shortId(sent.sweepId)})`;
  const parts = sent.parts > 1 ? `, sent in ${sent.parts} parts` : '';
  return `dispatched ${formatCount(sent.total)} runs of ${jobId} (sweep ${shortId(sent.sweepId)}${parts})`;
}

/** `stored 340,000 of 1,000,000 runs` */
export function storedLine(stored: number, total: number): string {
  return `stored ${formatCount(stored)} of ${formatCount(total)} runs`;
}

export function registerDispatchCommand(program: Command): void {
  program
    .command('dispatch')
    .description(
      `Start runs of a parameterized job: one from --meta/--payload, or a sweep from --sweep FILE and/or --matrix (sent in parts of ${formatCount(MAX_RUNS_PER_DISPATCH)} when larger); with --wait, follow them until all end`,
    )
    .argument('<job>', 'the parameterized job (its id)')
    .option('--meta <key=value>', 'meta for the run; with --sweep or --matrix, added to every run (repeatable)', collect)
    .option('--payload <file>', 'a file every run receives as $BATON_TASK_DIR/payload (- reads stdin)')
    .option('--sweep <file>', 'one run per row: a CSV whose header names the meta keys, or a YAML/JSON list of objects')
    .option('--matrix <key=values>', 'a run per combination of the values: ranges (1..50, inclusive) and lists (1,2,3) (repeatable)', collect)
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
        '  baton dispatch sim --matrix i=1..1000000        # a million runs, sent in parts of 10,000',
        '',
        `A sweep of more than ${formatCount(MAX_RUNS_PER_DISPATCH)} runs is checked in full against the job's meta and`,
        'payload rules, then sent in parts; a part whose answer is lost is sent again (the server',
        'recognises it). With -o json the answer is {"sweepId", "jobs": [every run id], "total"}.',
      ].join('\n'),
    )
    .action(async (jobId: string, flags: DispatchFlags, cmd: Command) => {
      const g = globalOptions(cmd);
      const namespace = flags.namespace || defaultNamespace();
      const { plan, payload } = runsFromFlags(flags);
      const client = clientFor(cmd);
      const json = g.output === 'json';
      // with -o json, stdout holds only the JSON document
      const stream = json ? process.stderr : process.stdout;
      const parts = partCount(plan.total);
      if (parts > 1) {
        // all or none no longer holds across parts: find a bad row before the first part is stored
        const parent = (await client.getJob(jobId, namespace)).job;
        const problems = checkParts(parent, dispatchParts(plan, payload));
        if (problems.length > 0) {
          const first = problems[0];
          const refusal = `${dispatchRefusal(problems.length, problems.length >= 100)}: ${first.path}: ${first.message}`;
          throw explainDispatchError(new BatonApiError(400, refusal, problems), plan);
        }
      }

      const status = createStatusLine(stream);
      const sink = streamSink();
      const doc = new JsonObjectText();
      let jobs: ReturnType<JsonObjectText['arrayField']>['array'] | undefined;
      let sent: SentSweep;
      try {
        sent = await sendSweep(client, jobId, namespace, plan, dispatchParts(plan, payload), {
          log: (l) => status.log(l),
          onPart: async (stored, res) => {
            if (parts > 1) status.update(storedLine(stored, plan.total));
            if (!json) return;
            if (!jobs) {
              const head = doc.open() + doc.field('sweepId', res.sweepId);
              const field = doc.arrayField('jobs');
              jobs = field.array;
              await sink.write(head + field.text + jobs.open());
            }
            await sink.write(res.jobs.map((id) => jobs!.item(id)).join(''));
          },
        });
      } finally {
        status.clear();
      }
      if (json) await sink.write(jobs!.close() + doc.field('total', sent.total) + doc.close() + '\n');
      else process.stdout.write(dispatchedMessage(jobId, sent) + '\n');
      if (!flags.wait) return;
      const display = createProgressDisplay(`sweep ${shortId(sent.sweepId)}`, stream);
      try {
        const result = await watchRuns(client, jobId, namespace, sent.sweepId, { display });
        if (!result.ok) process.exitCode = 1;
      } finally {
        display.finish();
      }
    });
}

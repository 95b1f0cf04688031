/** `baton job ls|status|stop`: what was submitted and how it is doing. */
import { Option, type Command } from 'commander';
import type { Alloc, Evaluation, Job, JobDetail, JobStatus, JobSummary, RunsResponse } from '../../api/types.js';
import type { BatonClient } from '../../client/client.js';
import { BatonApiError } from '../../client/http.js';
import { FAILED_OUTCOMES } from '../../jobs/run-summary.js';
import { clientFor, globalOptions } from '../config.js';
import {
  CliError,
  age,
  formatAllocCounts,
  formatChildCounts,
  formatCount,
  formatResources,
  printJson,
  printTable,
  renderFields,
  shortId,
  until,
} from '../output.js';
import { pages, parseLimit, printListing, type ListPage, type TableView } from '../paging.js';
import { runPages, writeRunsCsv, writeRunsJson } from '../runs-output.js';
import { renderRunSummary } from '../runs-view.js';
import { streamSink } from '../stream-out.js';
import { defaultNamespace } from '../namespace.js';
import { firstRunsWith } from '../sweep-runs.js';
import { renderSweepSection } from '../sweep-view.js';

const RECENT_EVALS = 5;

export const JOB_STATUSES: JobStatus[] = ['pending', 'running', 'complete', 'failed', 'stopped'];
/** what `--type` filters on: the spec's type, or what makes a batch job a parent */
export const JOB_TYPES = ['batch', 'service', 'system', 'parameterized', 'periodic'] as const;

function allocDescription(a: Alloc): string {
  // the desired description says why baton stops it; the client one what the agent saw
  if (a.desiredStatus === 'stop' && a.desiredDescription) return a.desiredDescription;
  return a.clientDescription || a.desiredDescription || '';
}

export function allocRows(allocs: Alloc[]): string[][] {
  return [...allocs]
    .sort((a, b) => a.index - b.index || b.attempt - a.attempt)
    .map((a) => [
      shortId(a.id),
      a.nodeName || shortId(a.nodeId),
      String(a.index),
      String(a.attempt),
      a.desiredStatus,
      a.clientStatus,
      allocDescription(a),
      age(a.createdAt),
    ]);
}

export const ALLOC_HEADERS = ['ID', 'NODE', 'INDEX', 'ATTEMPT', 'DESIRED', 'STATUS', 'DESCRIPTION', 'AGE'];

function evalRows(evals: Evaluation[]): string[][] {
  return [...evals]
    .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))
    .slice(0, RECENT_EVALS)
    .map((e) => [shortId(e.id), e.triggeredBy, e.status, String(e.queuedAllocs), e.statusDescription || '', age(e.createdAt)]);
}

/** A parent of dispatched or periodic children. */
export function isParent(job: Job): boolean {
  return job.spec.parameterized !== undefined || job.spec.periodic !== undefined;
}

/** Jobs whose status is best read as a list of runs: parents, and batch jobs of several allocs. */
export function hasRuns(job: Job): boolean {
  return isParent(job) || (job.spec.type === 'batch' && job.spec.count > 1);
}

/** `2025-01-02T03:00:00Z (in 5h)` */
export function formatNextLaunch(iso: string | undefined, now = Date.now()): string {
  return iso ? `${iso} (${until(iso, now)})` : '-';
}

/** The ALLOCS cell of `job ls`: a parent has no allocs of its own, so its children count instead. */
export function jobListCounts(j: JobSummary): string {
  return j.children ? formatChildCounts(j.children) : formatAllocCounts(j.allocs);
}

/**
 * The columns of `job ls`. NEXT LAUNCH appears only when periodic jobs may be
 * listed, to keep the common listing narrow; the first page decides, so when
 * more pages follow (and they may hold periodic jobs) it is kept.
 */
export function jobListView(first: ListPage<JobSummary>, f: { parent?: string; type?: string }, now = Date.now()): TableView<JobSummary> {
  const mayHavePeriodic = f.parent === undefined && (f.type === undefined || f.type === 'periodic');
  const periodic = mayHavePeriodic && (f.type === 'periodic' || !first.last || first.items.some((j) => j.nextLaunch));
  return {
    headers: ['ID', 'NAMESPACE', 'TYPE', 'VERSION', 'STATUS', 'ALLOCS', ...(periodic ? ['NEXT LAUNCH'] : []), 'SUBMITTED'],
    row: (j) => [
      j.id,
      j.namespace,
      j.kind ?? j.type,
      String(j.version),
      j.blocked?.length && j.status === 'pending' ? 'pending (blocked)' : j.status,
      jobListCounts(j),
      ...(periodic ? [j.nextLaunch ? until(j.nextLaunch, now) : '-'] : []),
      age(j.submittedAt, now),
    ],
  };
}

export interface JobLsFlags {
  namespace?: string;
  allNamespaces?: boolean;
  parent?: string;
  status?: JobStatus;
  type?: string;
  limit?: number;
}

/** Flags that contradict each other, named before anything is asked of the server. */
export function checkJobLsFlags(f: JobLsFlags): void {
  if (f.parent !== undefined && f.allNamespaces) {
    throw new CliError('--parent lists the runs of one job, which lives in one namespace: use -n NAMESPACE instead of -A');
  }
  if (f.parent !== undefined && f.type !== undefined) {
    throw new CliError('--type does not apply with --parent: the runs of a parent are all batch jobs (filter them with --status)');
  }
}

/** Why `job ls` listed nothing, in words: the filters, and whether the parent exists at all. */
async function explainEmptyJobList(client: BatonClient, ns: string, f: JobLsFlags): Promise<string> {
  const filters = [f.status && `status ${f.status}`, f.type && `type ${f.type}`].filter(Boolean).join(', ');
  const where = `${filters ? ` with ${filters}` : ''}${ns === '*' ? '' : ` in namespace ${ns}`}`;
  if (f.parent === undefined) return `no jobs${where}`;
  // an unknown parent and one without runs both list nothing; say which
  const parent = (await client.getJob(f.parent, ns)).job;
  if (!isParent(parent)) return `job ${f.parent} has no runs: it is a ${parent.spec.type} job, not a parameterized or periodic one`;
  return `no runs of ${f.parent}${where}`;
}

/** The job's fields, why it waits, its allocs, `runs` (the sweep or run summary), then its recent evals. */
function printJobDetail(d: JobDetail, runs: string[] = []): void {
  const { job, summary } = d;
  const tasks = job.spec.tasks.map((t) => `${t.name} (${t.driver}${t.image ? ` ${t.image}` : ''}; ${formatResources(t.resources)})`);
  const fields: Array<[string, string | number]> = [
    ['ID', job.id],
    ['Namespace', job.namespace],
    ['Type', job.spec.type],
    ['Version', job.version],
    ['Priority', job.spec.priority],
    ['Count', job.spec.count],
    ['Status', job.stopped && job.status !== 'stopped' ? `${job.status} (stopping)` : job.status],
  ];
  const p = job.spec.parameterized;
  if (p) {
    const keys = [...p.metaRequired, ...p.metaOptional.map((k) => `${k}?`)];
    fields.push(['Parameterized', `meta ${keys.join(', ') || '-'}; payload ${p.payload}`]);
  }
  const periodic = job.spec.periodic;
  if (periodic) {
    fields.push(['Periodic', `${periodic.cron} (${periodic.timezone}), overlap ${periodic.overlap}`]);
    fields.push(['Next launch', formatNextLaunch(summary.nextLaunch)]);
  }
  if (job.parentId) fields.push(['Parent', job.parentId]);
  if (job.dispatch) {
    const meta = Object.entries(job.dispatch.meta)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    fields.push(['Meta', meta || '-']);
    if (job.dispatch.sweepId) fields.push(['Sweep', `${shortId(job.dispatch.sweepId)}${job.dispatch.row !== undefined ? ` row ${job.dispatch.row}` : ''}`]);
    if (job.dispatch.launchFor) fields.push(['Launch for', job.dispatch.launchFor]);
  }
  // a parent with the server's sweep totals gets a section of its own below
  if (!summary.runs) fields.push(summary.children ? ['Children', formatChildCounts(summary.children)] : ['Allocs', formatAllocCounts(summary.allocs)]);
  fields.push(['Tasks', tasks.join(', ') || '-'], ['Submitted', `${job.submittedAt} (${age(job.submittedAt)} ago)`]);
  process.stdout.write(renderFields(fields) + '\n');
  // a parent's wait is told in its sweep section, with the queue it holds
  if (summary.blocked?.length && !summary.runs) {
    process.stdout.write('\nWaiting for capacity:\n');
    for (const b of summary.blocked) {
      process.stdout.write(`  ${b.message}${b.neverFits ? ' (no node could ever fit this)' : ''}\n`);
    }
  }
  // a parent places nothing itself: its runs (below) are what there is to see
  if (!isParent(job)) {
    const total = d.allocsTotal ?? d.allocs.length;
    const newest =
      total > d.allocs.length ? ` (the newest ${formatCount(d.allocs.length)} of ${formatCount(total)}; \`baton alloc ls --job ${job.id}\` lists all)` : '';
    process.stdout.write(`\nAllocations${newest}\n`);
    if (d.allocs.length) printTable(ALLOC_HEADERS, allocRows(d.allocs));
    else process.stdout.write('  none\n');
  }
  if (runs.length > 0) process.stdout.write('\n' + runs.join('\n') + '\n');
  process.stdout.write('\nRecent evaluations\n');
  if (d.evals.length) printTable(['ID', 'TRIGGER', 'STATUS', 'QUEUED', 'DESCRIPTION', 'AGE'], evalRows(d.evals));
  else process.stdout.write('  none\n');
}

/**
 * Every run of a plain batch job (at most its count, 10,000), for the per-run
 * summary; undefined from a server that predates the runs route, so the rest
 * of the status still shows.
 */
async function runsOrNothing(client: BatonClient, id: string, ns: string): Promise<RunsResponse | undefined> {
  try {
    return await client.listRuns(id, ns);
  } catch (err) {
    if (err instanceof BatonApiError && err.status === 404) return undefined;
    throw err;
  }
}

/** The sweep section: the server's totals, and the first failed runs (a few bounded requests). */
async function sweepSection(client: BatonClient, d: JobDetail): Promise<string[]> {
  const stats = d.summary.runs!;
  const failed = await firstRunsWith(client, d.job.id, d.job.namespace, stats, FAILED_OUTCOMES);
  return renderSweepSection({ stats, blocked: d.summary.blocked, failed, jobId: d.job.id, now: Date.now() });
}

export function registerJobCommand(program: Command): void {
  const job = program.command('job').description('List, inspect and stop jobs');

  job
    .command('ls')
    .alias('list')
    .description('List jobs of a namespace, or with --parent the runs of a sweep in submission order; pages are read and printed as they come')
    .option('-n, --namespace <namespace>', 'namespace (default: $BATON_NAMESPACE or "default")')
    .option('-A, --all-namespaces', 'list jobs of every namespace the token may read')
    .option('--parent <job>', 'only the runs (dispatched or periodic children) of this job, in submission order')
    .addOption(new Option('--status <status>', 'only jobs (or runs) with this status').choices(JOB_STATUSES))
    .addOption(new Option('--type <type>', 'only jobs of this type').choices([...JOB_TYPES]))
    .addOption(new Option('--limit <n>', 'show at most this many (default: all, read page by page)').argParser(parseLimit))
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  baton job ls --type parameterized',
        '  baton job ls --parent sim --status failed --limit 20',
        '  baton job ls --parent sim -o json | jq -r ".[].id"',
      ].join('\n'),
    )
    .action(async (opts: JobLsFlags, cmd: Command) => {
      const g = globalOptions(cmd);
      checkJobLsFlags(opts);
      const ns = opts.allNamespaces ? '*' : opts.namespace || defaultNamespace();
      const client = clientFor(cmd);
      const filter = { parent: opts.parent, status: opts.status, type: opts.type };
      const source = pages((cursor, limit) => client.jobsPage(ns, { ...filter, cursor, limit }), { limit: opts.limit });
      const output = g.output === 'json' ? 'json' : 'table';
      const n = await printListing(streamSink(), source, { output, view: (first) => jobListView(first, filter) });
      if (n === 0 && output === 'table') process.stdout.write((await explainEmptyJobList(client, ns, opts)) + '\n');
    });

  job
    .command('status')
    .description(
      'Show a job: its spec summary, why it waits, its allocations and recent evaluations; for a sweep, its progress, outcomes, estimated end, quantiles, failed runs and hints from the totals the server keeps (no run is downloaded); -o csv and -o json stream every run',
    )
    .argument('<id>', 'job id (its name)')
    .option('-n, --namespace <namespace>', 'namespace (default: $BATON_NAMESPACE or "default")')
    .addHelpText(
      'after',
      [
        '',
        'Output:',
        '  -o csv   one line per run (meta columns, node, attempt, outcome, exit code, reason, duration, memory)',
        '  -o json  for a job with runs: {"job": <summary with the sweep totals in job.runs>, "runs": [every run]};',
        '           for other jobs: the job, its summary, newest allocs and recent evals',
      ].join('\n'),
    )
    .action(async (id: string, opts: { namespace?: string }, cmd: Command) => {
      const g = globalOptions(cmd, { csv: true });
      const ns = opts.namespace || defaultNamespace();
      const client = clientFor(cmd);
      const detail = await client.getJob(id, ns);
      const sink = streamSink();
      if (g.output === 'csv') {
        const p = detail.job.spec.parameterized;
        const declared = p ? [...p.metaRequired, ...p.metaOptional] : [];
        await writeRunsCsv(sink, runPages(client, id, ns), declared, (l) => void process.stderr.write(l + '\n'));
        return;
      }
      const runs = hasRuns(detail.job);
      if (g.output === 'json') {
        if (runs) await writeRunsJson(sink, client, id, ns);
        else printJson(detail);
        return;
      }
      let section: string[] = [];
      if (runs && detail.summary.runs) section = await sweepSection(client, detail);
      else if (runs) {
        // a plain batch job (or a server that keeps no sweep totals): summarised from its rows
        const res = await runsOrNothing(client, id, ns);
        section = res ? renderRunSummary(res) : ['Runs: this server does not list runs (GET /v1/jobs/:id/runs)'];
      }
      printJobDetail(detail, section);
    });

  job
    .command('stop')
    .description('Stop a job: its allocations are stopped and it is not rescheduled')
    .argument('<id>', 'job id (its name)')
    .option('-n, --namespace <namespace>', 'namespace (default: $BATON_NAMESPACE or "default")')
    .action(async (id: string, opts: { namespace?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const res = await clientFor(cmd).stopJob(id, opts.namespace || defaultNamespace());
      if (g.output === 'json') return printJson(res);
      process.stdout.write(`job ${id} stopping (eval ${shortId(res.evalId)})\n`);
    });

  job
    .command('start')
    .description('Start a stopped job again with the spec it had (a new version)')
    .argument('<id>', 'job id (its name)')
    .option('-n, --namespace <namespace>', 'namespace (default: $BATON_NAMESPACE or "default")')
    .action(async (id: string, opts: { namespace?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const res = await clientFor(cmd).startJob(id, opts.namespace || defaultNamespace());
      if (g.output === 'json') return printJson(res);
      process.stdout.write(`job ${id} started again as version ${res.job.version} (eval ${shortId(res.evalId)})\n`);
    });

  job
    .command('scale')
    .description('Change how many allocations a job runs; running ones carry on in place')
    .argument('<id>', 'job id (its name)')
    .argument('<count>', 'the new count (0 or more)')
    .option('-n, --namespace <namespace>', 'namespace (default: $BATON_NAMESPACE or "default")')
    .action(async (id: string, countText: string, opts: { namespace?: string }, cmd: Command) => {
      const count = Number(countText);
      if (!/^\d+$/.test(countText) || !Number.isSafeInteger(count)) throw new CliError(`count "${countText}" is not a whole number of 0 or more`);
      const g = globalOptions(cmd);
      const res = await clientFor(cmd).scaleJob(id, count, opts.namespace || defaultNamespace());
      if (g.output === 'json') return printJson(res);
      process.stdout.write(`job ${id} scaled to ${count} (version ${res.job.version}, eval ${shortId(res.evalId)})\n`);
    });
}

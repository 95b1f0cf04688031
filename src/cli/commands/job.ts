/** `baton job ls|status|stop`: what was submitted and how it is doing. */
import type { Command } from 'commander';
import type { Alloc, Evaluation, Job, JobDetail, JobSummary, RunsResponse } from '../../api/types.js';
import type { BatonClient } from '../../client/client.js';
import { BatonApiError } from '../../client/http.js';
import { runsToCsv } from '../../jobs/run-summary.js';
import { clientFor, globalOptions } from '../config.js';
import {
  CliError,
  age,
  formatAllocCounts,
  formatChildCounts,
  formatResources,
  printJson,
  printTable,
  renderFields,
  shortId,
  until,
} from '../output.js';
import { renderRunSummary } from '../runs-view.js';

const RECENT_EVALS = 5;

function defaultNamespace(): string {
  return process.env.BATON_NAMESPACE || 'default';
}

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
    .map((e) => [
      shortId(e.id),
      e.triggeredBy,
      e.status,
      String(e.queuedAllocs),
      e.statusDescription || '',
      age(e.createdAt),
    ]);
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

function printJobDetail(d: JobDetail): void {
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
    const meta = Object.entries(job.dispatch.meta).map(([k, v]) => `${k}=${v}`).join(', ');
    fields.push(['Meta', meta || '-']);
    if (job.dispatch.sweepId) fields.push(['Sweep', `${shortId(job.dispatch.sweepId)}${job.dispatch.row !== undefined ? ` row ${job.dispatch.row}` : ''}`]);
    if (job.dispatch.launchFor) fields.push(['Launch for', job.dispatch.launchFor]);
  }
  fields.push(
    summary.children ? ['Children', formatChildCounts(summary.children)] : ['Allocs', formatAllocCounts(summary.allocs)],
    ['Tasks', tasks.join(', ') || '-'],
    ['Submitted', `${job.submittedAt} (${age(job.submittedAt)} ago)`],
  );
  process.stdout.write(renderFields(fields) + '\n');
  if (summary.blocked?.length) {
    process.stdout.write('\nWaiting for capacity:\n');
    for (const b of summary.blocked) {
      process.stdout.write(`  ${b.message}${b.neverFits ? ' (no node could ever fit this)' : ''}\n`);
    }
  }
  // a parent places nothing itself: its runs (below) are what there is to see
  if (!isParent(job)) {
    process.stdout.write('\nAllocations\n');
    if (d.allocs.length) printTable(ALLOC_HEADERS, allocRows(d.allocs));
    else process.stdout.write('  none\n');
  }
  process.stdout.write('\nRecent evaluations\n');
  if (d.evals.length) printTable(['ID', 'TRIGGER', 'STATUS', 'QUEUED', 'DESCRIPTION', 'AGE'], evalRows(d.evals));
  else process.stdout.write('  none\n');
}

/** The job's runs; undefined from a server that predates the runs route, so the rest of the status still shows. */
async function runsOrNothing(client: BatonClient, id: string, ns: string): Promise<RunsResponse | undefined> {
  try {
    return await client.listRuns(id, ns);
  } catch (err) {
    if (err instanceof BatonApiError && err.status === 404) return undefined;
    throw err;
  }
}

export function registerJobCommand(program: Command): void {
  const job = program.command('job').description('List, inspect and stop jobs');

  job
    .command('ls')
    .alias('list')
    .description('List jobs of a namespace')
    .option('-n, --namespace <namespace>', 'namespace (default: $BATON_NAMESPACE or "default")')
    .option('-A, --all-namespaces', 'list jobs of every namespace the token may read')
    .option('--parent <job>', 'only the children (dispatched or periodic runs) of this job')
    .action(async (opts: { namespace?: string; allNamespaces?: boolean; parent?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const ns = opts.allNamespaces ? '*' : opts.namespace || defaultNamespace();
      const jobs = await clientFor(cmd).listJobs(ns, { parent: opts.parent });
      if (g.output === 'json') return printJson(jobs);
      if (jobs.length === 0) {
        const where = opts.parent ? ` of ${opts.parent}` : '';
        process.stdout.write(`no jobs${where}${ns === '*' ? '' : ` in namespace ${ns}`}\n`);
        return;
      }
      // the column appears only when a periodic job is listed, to keep the common listing narrow
      const periodic = jobs.some((j) => j.nextLaunch);
      const now = Date.now();
      printTable(
        ['ID', 'NAMESPACE', 'TYPE', 'VERSION', 'STATUS', 'ALLOCS', ...(periodic ? ['NEXT LAUNCH'] : []), 'SUBMITTED'],
        jobs.map((j) => [
          j.id,
          j.namespace,
          j.type,
          String(j.version),
          j.blocked?.length && j.status === 'pending' ? 'pending (blocked)' : j.status,
          jobListCounts(j),
          ...(periodic ? [j.nextLaunch ? until(j.nextLaunch, now) : '-'] : []),
          age(j.submittedAt),
        ]),
      );
    });

  job
    .command('status')
    .description(
      'Show a job: its spec summary, why it waits, its allocations and recent evaluations; for a sweep or a batch job of several runs, a summary of the runs (-o json and -o csv list every run)',
    )
    .argument('<id>', 'job id (its name)')
    .option('-n, --namespace <namespace>', 'namespace (default: $BATON_NAMESPACE or "default")')
    .action(async (id: string, opts: { namespace?: string }, cmd: Command) => {
      const g = globalOptions(cmd, { csv: true });
      const ns = opts.namespace || defaultNamespace();
      const client = clientFor(cmd);
      if (g.output === 'csv') {
        process.stdout.write(runsToCsv((await client.listRuns(id, ns)).runs));
        return;
      }
      const detail = await client.getJob(id, ns);
      const runs = hasRuns(detail.job);
      if (g.output === 'json') return printJson(runs ? await client.listRuns(id, ns) : detail);
      printJobDetail(detail);
      if (runs) {
        const res = await runsOrNothing(client, id, ns);
        process.stdout.write('\n' + (res ? renderRunSummary(res).join('\n') : 'Runs: this server does not list runs (GET /v1/jobs/:id/runs)') + '\n');
      }
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

/** `baton job ls|status|stop`: what was submitted and how it is doing. */
import type { Command } from 'commander';
import type { Alloc, Evaluation, JobDetail } from '../../api/types.js';
import { clientFor, globalOptions } from '../config.js';
import {
  age,
  formatAllocCounts,
  formatResources,
  printJson,
  printTable,
  renderFields,
  shortId,
} from '../output.js';

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

function printJobDetail(d: JobDetail): void {
  const { job, summary } = d;
  const tasks = job.spec.tasks.map((t) => `${t.name} (${t.driver}${t.image ? ` ${t.image}` : ''}; ${formatResources(t.resources)})`);
  process.stdout.write(
    renderFields([
      ['ID', job.id],
      ['Namespace', job.namespace],
      ['Type', job.spec.type],
      ['Version', job.version],
      ['Priority', job.spec.priority],
      ['Count', job.spec.count],
      ['Status', job.stopped && job.status !== 'stopped' ? `${job.status} (stopping)` : job.status],
      ['Allocs', formatAllocCounts(summary.allocs)],
      ['Tasks', tasks.join(', ') || '-'],
      ['Submitted', `${job.submittedAt} (${age(job.submittedAt)} ago)`],
    ]) + '\n',
  );
  if (summary.blocked?.length) {
    process.stdout.write('\nWaiting for capacity:\n');
    for (const b of summary.blocked) {
      process.stdout.write(`  ${b.message}${b.neverFits ? ' (no node could ever fit this)' : ''}\n`);
    }
  }
  process.stdout.write('\nAllocations\n');
  if (d.allocs.length) printTable(ALLOC_HEADERS, allocRows(d.allocs));
  else process.stdout.write('  none\n');
  process.stdout.write('\nRecent evaluations\n');
  if (d.evals.length) printTable(['ID', 'TRIGGER', 'STATUS', 'QUEUED', 'DESCRIPTION', 'AGE'], evalRows(d.evals));
  else process.stdout.write('  none\n');
}

export function registerJobCommand(program: Command): void {
  const job = program.command('job').description('List, inspect and stop jobs');

  job
    .command('ls')
    .alias('list')
    .description('List jobs of a namespace')
    .option('-n, --namespace <namespace>', 'namespace (default: $BATON_NAMESPACE or "default")')
    .option('-A, --all-namespaces', 'list jobs of every namespace the token may read')
    .action(async (opts: { namespace?: string; allNamespaces?: boolean }, cmd: Command) => {
      const g = globalOptions(cmd);
      const ns = opts.allNamespaces ? '*' : opts.namespace || defaultNamespace();
      const jobs = await clientFor(cmd).listJobs(ns);
      if (g.output === 'json') return printJson(jobs);
      if (jobs.length === 0) {
        process.stdout.write(`no jobs${ns === '*' ? '' : ` in namespace ${ns}`}\n`);
        return;
      }
      printTable(
        ['ID', 'NAMESPACE', 'TYPE', 'VERSION', 'STATUS', 'ALLOCS', 'SUBMITTED'],
        jobs.map((j) => [
          j.id,
          j.namespace,
          j.type,
          String(j.version),
          j.blocked?.length && j.status === 'pending' ? 'pending (blocked)' : j.status,
          formatAllocCounts(j.allocs),
          age(j.submittedAt),
        ]),
      );
    });

  job
    .command('status')
    .description('Show a job: its spec summary, why it waits, its allocations and recent evaluations')
    .argument('<id>', 'job id (its name)')
    .option('-n, --namespace <namespace>', 'namespace (default: $BATON_NAMESPACE or "default")')
    .action(async (id: string, opts: { namespace?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const detail = await clientFor(cmd).getJob(id, opts.namespace || defaultNamespace());
      if (g.output === 'json') return printJson(detail);
      printJobDetail(detail);
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
}

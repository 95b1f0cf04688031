/** `baton stack ls|status|rm`: the jobs a compose deploy made, grouped by their meta stack. */
import type { Command } from 'commander';
import type { Alloc, JobDetail, JobStatus } from '../../api/types.js';
import type { BatonClient } from '../../client/client.js';
import { allocHealthy } from '../../compose/ready.js';
import { clientFor, globalOptions } from '../config.js';
import { CliError, age, formatAllocCounts, naturalCompare, printJson, printTable, shortId } from '../output.js';

/** at most this many job lookups in flight: a stack listing should not flood the server */
const CONCURRENCY = 8;

function defaultNamespace(): string {
  return process.env.BATON_NAMESPACE || 'default';
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Every job of a namespace that belongs to a stack, with its allocs. The job
 * listing carries no meta, so each job is read; children of parameterized or
 * periodic jobs never belong to a stack and are skipped.
 */
export async function stackJobs(client: BatonClient, namespace: string, stack?: string): Promise<Map<string, JobDetail[]>> {
  const out = new Map<string, JobDetail[]>();
  // page by page, keeping only the stacks' jobs: the namespace may hold many other jobs
  let cursor: string | undefined;
  do {
    const page = await client.jobsPage(namespace, { limit: 1000, cursor });
    const jobs = page.items.filter((j) => !j.parentId);
    const details = await mapLimit(jobs, CONCURRENCY, (j) => client.getJob(j.id, j.namespace).catch(() => undefined));
    for (const d of details) {
      const s = d?.job.spec.meta?.stack;
      if (!d || !s || (stack !== undefined && s !== stack)) continue;
      out.set(s, [...(out.get(s) ?? []), d]);
    }
    cursor = page.next;
  } while (cursor);
  return out;
}

/** `running` when every job agrees, else the counts: `2 running, 1 pending`. */
export function stackStatus(statuses: JobStatus[]): string {
  const counts = new Map<JobStatus, number>();
  for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1);
  if (counts.size === 1) return statuses[0];
  const order: JobStatus[] = ['pending', 'running', 'complete', 'failed', 'stopped'];
  return order
    .filter((s) => counts.has(s))
    .map((s) => `${counts.get(s)} ${s}`)
    .join(', ');
}

/** `2/2` healthy of the running allocs, `-` for jobs without health checks. */
export function healthCell(d: JobDetail): string {
  if (!d.job.spec.tasks.some((t) => t.checks?.length)) return '-';
  const running = d.allocs.filter((a: Alloc) => a.desiredStatus === 'run' && a.clientStatus === 'running');
  return `${running.filter(allocHealthy).length}/${running.length}`;
}

function jobStatus(d: JobDetail): string {
  return d.job.stopped && d.job.status !== 'stopped' ? `${d.job.status} (stopping)` : d.job.status;
}

export function registerStackCommand(program: Command): void {
  const stack = program.command('stack').description('List, inspect and remove stacks (the jobs `baton deploy` made from a compose file)');

  stack
    .command('ls')
    .alias('list')
    .description('List stacks: name, number of jobs, status')
    .option('-n, --namespace <namespace>', 'namespace (default: $BATON_NAMESPACE or "default")')
    .action(async (opts: { namespace?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const ns = opts.namespace || defaultNamespace();
      const stacks = await stackJobs(clientFor(cmd), ns);
      const rows = [...stacks.entries()]
        .sort(([a], [b]) => naturalCompare(a, b))
        .map(([name, jobs]) => ({ name, namespace: ns, jobs: jobs.length, status: stackStatus(jobs.map((j) => j.job.status)) }));
      if (g.output === 'json') return printJson(rows);
      if (rows.length === 0) {
        process.stdout.write(`no stacks in namespace ${ns}\n`);
        return;
      }
      printTable(
        ['NAME', 'JOBS', 'STATUS'],
        rows.map((r) => [r.name, String(r.jobs), r.status]),
      );
    });

  stack
    .command('status')
    .description('Show the jobs of a stack with their allocation counts and health')
    .argument('<name>', 'the stack name')
    .option('-n, --namespace <namespace>', 'namespace (default: $BATON_NAMESPACE or "default")')
    .action(async (name: string, opts: { namespace?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const ns = opts.namespace || defaultNamespace();
      const jobs = (await stackJobs(clientFor(cmd), ns, name)).get(name);
      if (!jobs) throw new CliError(`no stack ${name} in namespace ${ns} (see baton stack ls)`);
      if (g.output === 'json') return printJson(jobs.map((d) => ({ job: d.job, summary: d.summary, allocs: d.allocs })));
      printTable(
        ['JOB', 'SERVICE', 'TYPE', 'VERSION', 'STATUS', 'ALLOCS', 'HEALTHY', 'SUBMITTED'],
        jobs
          .sort((a, b) => naturalCompare(a.job.id, b.job.id))
          .map((d) => [
            d.job.id,
            d.job.spec.meta.service ?? '-',
            d.job.spec.type,
            String(d.job.version),
            jobStatus(d),
            formatAllocCounts(d.summary.allocs),
            healthCell(d),
            age(d.job.submittedAt),
          ]),
      );
    });

  stack
    .command('rm')
    .alias('remove')
    .description('Stop every job of a stack')
    .argument('<name>', 'the stack name')
    .option('-n, --namespace <namespace>', 'namespace (default: $BATON_NAMESPACE or "default")')
    .action(async (name: string, opts: { namespace?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const ns = opts.namespace || defaultNamespace();
      const client = clientFor(cmd);
      const jobs = (await stackJobs(client, ns, name)).get(name);
      if (!jobs) throw new CliError(`no stack ${name} in namespace ${ns} (see baton stack ls)`);
      const stopped: Array<{ job: string; evalId?: string }> = [];
      for (const d of jobs) {
        if (d.job.stopped) {
          stopped.push({ job: d.job.id });
          continue;
        }
        const res = await client.stopJob(d.job.id, d.job.namespace);
        stopped.push({ job: d.job.id, evalId: res.evalId });
      }
      if (g.output === 'json') return printJson({ stack: name, namespace: ns, jobs: stopped });
      for (const s of stopped) process.stdout.write(s.evalId ? `job ${s.job} stopping (eval ${shortId(s.evalId)})\n` : `job ${s.job} already stopped\n`);
    });
}

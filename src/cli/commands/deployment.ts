/**
 * `baton deployment ls|status|promote|fail` and `baton job history|revert`:
 * how a service moves from one version to the next, and back.
 */
import type { Command } from 'commander';
import type { Deployment } from '../../api/types.js';
import { clientFor, globalOptions } from '../config.js';
import { defaultNamespace } from '../namespace.js';
import { CliError, age, printJson, printTable, renderFields, shortId } from '../output.js';

function formatMs(ms: number): string {
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** `2/4 healthy, 1 unhealthy`, plus canaries while they matter */
export function deploymentProgress(d: Deployment): string {
  const parts = [`${d.healthyAllocs}/${d.desiredTotal} healthy`];
  if (d.unhealthyAllocs > 0) parts.push(`${d.unhealthyAllocs} unhealthy`);
  if (d.desiredCanaries > 0) parts.push(`${d.canaries.length}/${d.desiredCanaries} canaries${d.promoted ? ', promoted' : ''}`);
  return parts.join(', ');
}

export function deploymentRows(list: Deployment[]): string[][] {
  return list.map((d) => [shortId(d.id), d.jobId, String(d.jobVersion), d.status, deploymentProgress(d), d.statusDescription, age(d.createdAt)]);
}

export const DEPLOYMENT_HEADERS = ['ID', 'JOB', 'VERSION', 'STATUS', 'PROGRESS', 'DESCRIPTION', 'AGE'];

export function renderDeployment(d: Deployment): string {
  const s = d.strategy;
  return renderFields([
    ['ID', d.id],
    ['Job', `${d.jobId} (namespace ${d.namespace})`],
    ['Version', d.jobVersion],
    ['Status', d.status],
    ['Description', d.statusDescription || '-'],
    ['Placed', `${d.placedAllocs} of ${d.desiredTotal}`],
    ['Healthy', d.healthyAllocs],
    ['Unhealthy', d.unhealthyAllocs],
    ['Canaries', d.desiredCanaries > 0 ? `${d.canaries.length} of ${d.desiredCanaries} placed${d.promoted ? ', promoted' : ', not promoted'}` : 'none'],
    [
      'Strategy',
      `max_parallel ${s.maxParallel}, min_healthy_time ${formatMs(s.minHealthyTimeMs)}, healthy_deadline ${formatMs(s.healthyDeadlineMs)}, auto_revert ${s.autoRevert}`,
    ],
    ...(d.revertedTo !== undefined ? [['Reverted to', `version ${d.revertedTo}`] as [string, string]] : []),
    ['Created', `${d.createdAt} (${age(d.createdAt)} ago)`],
    ['Modified', `${d.modifiedAt} (${age(d.modifiedAt)} ago)`],
  ]);
}

export function registerDeploymentCommand(program: Command): void {
  const dep = program.command('deployment').alias('deployments').description('Follow, promote or fail the rolling updates of services');

  dep
    .command('ls')
    .alias('list')
    .description('List deployments, newest first')
    .option('--job <job>', 'only the deployments of this job')
    .option('-n, --namespace <namespace>', 'namespace (default: every namespace the token may read)')
    .action(async (opts: { job?: string; namespace?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const list = await clientFor(cmd).listDeployments({ namespace: opts.namespace ?? (opts.job ? defaultNamespace() : '*'), jobId: opts.job });
      if (g.output === 'json') return printJson(list);
      if (list.length === 0) {
        process.stdout.write(`no deployments${opts.job ? ` of job ${opts.job}` : ''}: they start when a service with an update stanza gets a new version\n`);
        return;
      }
      printTable(DEPLOYMENT_HEADERS, deploymentRows(list));
    });

  dep
    .command('status')
    .description('Show a deployment: progress, canaries and strategy')
    .argument('<id>', 'deployment id or unique id prefix')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const g = globalOptions(cmd);
      const d = await clientFor(cmd).getDeployment(id);
      if (g.output === 'json') return printJson(d);
      process.stdout.write(renderDeployment(d) + '\n');
      if (d.status === 'running' && d.desiredCanaries > 0 && !d.promoted) {
        process.stdout.write(`\nwhen the canaries look good: baton deployment promote ${shortId(d.id)}\n`);
      }
    });

  dep
    .command('promote')
    .description('The canaries are good: replace the rest of the old allocs')
    .argument('<id>', 'deployment id or unique id prefix')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const g = globalOptions(cmd);
      const d = await clientFor(cmd).promoteDeployment(id);
      if (g.output === 'json') return printJson(d);
      process.stdout.write(
        `deployment ${shortId(d.id)} of ${d.jobId} version ${d.jobVersion} promoted; follow with \`baton deployment status ${shortId(d.id)}\`\n`,
      );
    });

  dep
    .command('fail')
    .description('Stop a rollout: old allocs keep running; with auto_revert the last good version comes back')
    .argument('<id>', 'deployment id or unique id prefix')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const g = globalOptions(cmd);
      const d = await clientFor(cmd).failDeployment(id);
      if (g.output === 'json') return printJson(d);
      const reverted = d.revertedTo !== undefined ? `; reverted to version ${d.revertedTo}` : '';
      process.stdout.write(`deployment ${shortId(d.id)} of ${d.jobId} version ${d.jobVersion} failed${reverted}\n`);
    });

  // history and revert are about jobs: they sit under `baton job` beside ls/status
  const job = program.commands.find((c) => c.name() === 'job') ?? program.command('job').description('Inspect and manage jobs');

  job
    .command('history')
    .description('List the versions of a job, newest first, with how each one was rolled out')
    .argument('<job>', 'job id')
    .option('-n, --namespace <namespace>', 'namespace (default: $BATON_NAMESPACE or "default")')
    .action(async (id: string, opts: { namespace?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const res = await clientFor(cmd).jobVersions(id, opts.namespace || defaultNamespace());
      if (g.output === 'json') return printJson(res);
      printTable(
        ['VERSION', 'SUBMITTED', 'COUNT', 'DEPLOYMENT', 'STATUS', 'DESCRIPTION'],
        res.versions.map((v) => [
          v.version === res.current ? `${v.version} (current)` : String(v.version),
          `${age(v.submittedAt)} ago`,
          String(v.spec.count),
          shortId(v.deployment?.id),
          v.deployment?.status ?? '-',
          v.deployment?.statusDescription ?? '',
        ]),
      );
    });

  job
    .command('revert')
    .description('Run an earlier version again: its spec is registered as a new version')
    .argument('<job>', 'job id')
    .argument('<version>', 'the version to go back to (see `baton job history`)')
    .option('-n, --namespace <namespace>', 'namespace (default: $BATON_NAMESPACE or "default")')
    .action(async (id: string, version: string, opts: { namespace?: string }, cmd: Command) => {
      const v = Number(version);
      if (!Number.isInteger(v) || v < 1) throw new CliError(`version must be a whole number of 1 or more, not "${version}"`);
      const g = globalOptions(cmd);
      const r = await clientFor(cmd).revertJob(id, v, opts.namespace || defaultNamespace());
      if (g.output === 'json') return printJson(r);
      process.stdout.write(
        r.changed
          ? `job ${r.job.id} is at version ${r.job.version} (the spec of version ${v}); eval ${shortId(r.evalId)}\n`
          : `job ${r.job.id} runs the spec of version ${v} already (version ${r.job.version})\n`,
      );
    });
}

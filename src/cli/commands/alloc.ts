/** `baton alloc ls|status`: single placements of a job and how their tasks fared. */
import { Option, type Command } from 'commander';
import type { Alloc, AllocClientStatus, AllocDetail, AllocLink, TaskState } from '../../api/types.js';
import { formatBytes } from '../../spec/units.js';
import { resolveAlloc } from '../alloc-ref.js';
import { clientFor, globalOptions } from '../config.js';
import { defaultNamespace, NAMESPACE_OPTION_HELP } from '../namespace.js';
import { age, formatResources, naturalCompare, printJson, printTable, renderFields, shortId } from '../output.js';
import { pages, parseLimit, printListing, type TableView } from '../paging.js';
import { streamSink } from '../stream-out.js';

/** One line on how a task ended or runs: `dead, failed, exit code 137, OOM killed`. */
export function taskStateSummary(ts: TaskState): string {
  const parts: string[] = [ts.state];
  if (ts.failed) parts.push('failed');
  if (ts.exitCode !== undefined) parts.push(`exit code ${ts.exitCode}`);
  if (ts.signal) parts.push(`signal ${ts.signal}`);
  if (ts.oomKilled) parts.push('OOM killed');
  return parts.join(', ');
}

/** `4f2a9c1e on n2 (running) — lost: node n1 missed its heartbeats for 15s` */
export function describeLink(l: AllocLink): string {
  return `${shortId(l.id)}${l.nodeName ? ` on ${l.nodeName}` : ''} (${l.clientStatus}) — ${l.reason}`;
}

/** the alloc's own fields, the replacement links among them */
export function allocFields(a: AllocDetail): Array<[string, string | number]> {
  const fields: Array<[string, string | number]> = [
    ['ID', a.id],
    ['Name', a.name],
    ['Namespace', a.namespace],
    ['Job', `${a.jobId} (version ${a.jobVersion})`],
    ['Node', `${a.nodeName || '-'} (${shortId(a.nodeId)})`],
    ['Eval', shortId(a.evalId)],
    ['Attempt', a.attempt],
  ];
  if (a.replacedBy) fields.push(['Replaced by', describeLink(a.replacedBy)]);
  // a replaced alloc collected since: its id is all there is
  if (a.replaces) fields.push(['Replaces', describeLink(a.replaces)]);
  else if (a.previousAllocId) fields.push(['Replaces', `${shortId(a.previousAllocId)} (collected)`]);
  fields.push(
    ['Desired', a.desiredDescription ? `${a.desiredStatus} (${a.desiredDescription})` : a.desiredStatus],
    ['Status', a.clientDescription ? `${a.clientStatus} (${a.clientDescription})` : a.clientStatus],
    ['Resources', formatResources(a.resources)],
    ['Created', `${a.createdAt} (${age(a.createdAt)} ago)`],
    ['Modified', `${a.modifiedAt} (${age(a.modifiedAt)} ago)`],
  );
  return fields;
}

function printAlloc(a: AllocDetail): void {
  const out = (s: string) => process.stdout.write(s + '\n');
  out(renderFields(allocFields(a)));
  const tasks = Object.entries(a.taskStates).sort(([x], [y]) => naturalCompare(x, y));
  if (tasks.length === 0) out('\nNo task has reported yet.');
  for (const [name, ts] of tasks) {
    out(`\nTask ${name}`);
    const fields: Array<[string, string | number]> = [
      ['State', taskStateSummary(ts)],
      ['Exit code', ts.exitCode ?? '-'],
      ['OOM killed', ts.oomKilled ? 'yes' : 'no'],
      ['Peak memory', ts.peakMemory !== undefined ? formatBytes(ts.peakMemory) : '-'],
      ['Restarts', ts.restarts],
    ];
    if (ts.startedAt) fields.push(['Started', `${ts.startedAt} (${age(ts.startedAt)} ago)`]);
    if (ts.finishedAt) fields.push(['Finished', `${ts.finishedAt} (${age(ts.finishedAt)} ago)`]);
    out(renderFields(fields).replace(/^/gm, '  '));
    if (ts.events.length) {
      out('');
      printTable(
        ['TIME', 'AGE', 'TYPE', 'MESSAGE'],
        ts.events.map((e) => [e.time, age(e.time), e.type, e.message]),
      );
    }
  }
}

export const ALLOC_STATUSES: AllocClientStatus[] = ['pending', 'running', 'complete', 'failed', 'lost'];

const ALLOC_VIEW: TableView<Alloc> = {
  headers: ['ID', 'NAME', 'NAMESPACE', 'VERSION', 'NODE', 'DESIRED', 'STATUS', 'DESCRIPTION', 'AGE'],
  row: (a) => [
    shortId(a.id),
    a.name,
    a.namespace,
    String(a.jobVersion),
    a.nodeName || shortId(a.nodeId),
    a.desiredStatus,
    a.clientStatus,
    (a.desiredStatus === 'stop' && a.desiredDescription) || a.clientDescription || '',
    age(a.createdAt),
  ],
};

/** ` of job sim, status failed`: what an empty listing was filtered by */
export function describeAllocFilter(f: { namespace?: string; jobId?: string; nodeId?: string; status?: string }): string {
  const parts = [
    f.jobId && `job ${f.jobId}`,
    f.nodeId && `node ${f.nodeId}`,
    f.status && `status ${f.status}`,
    f.namespace && `namespace ${f.namespace}`,
  ].filter(Boolean);
  return parts.length ? ` with ${parts.join(', ')}` : '';
}

export function registerAllocCommand(program: Command): void {
  const alloc = program.command('alloc').description('List and inspect allocations (one placed instance of a job)');

  alloc
    .command('ls')
    .alias('list')
    .description('List allocations, oldest first (--newest: newest first), optionally filtered')
    .option('--job <job>', "only this job (a sweep's run is a job of its own: <parent>/<sweep>-<row>)")
    .option('--node <node>', 'only this node (id or id prefix)')
    .addOption(new Option('--status <status>', 'only this client status').choices(ALLOC_STATUSES))
    .addOption(new Option('--limit <n>', 'show at most this many (default: all, read page by page)').argParser(parseLimit))
    .option('--newest', 'newest first (with --limit N: the latest N)')
    .option('-n, --namespace <namespace>', 'only this namespace (default: every namespace the token may read)')
    .action(async (opts: { job?: string; node?: string; status?: string; namespace?: string; limit?: number; newest?: boolean }, cmd: Command) => {
      const g = globalOptions(cmd);
      const client = clientFor(cmd);
      const filter = { namespace: opts.namespace, jobId: opts.job, nodeId: opts.node, status: opts.status };
      const order = opts.newest ? { newestFirst: true } : {};
      const source = pages((cursor, limit) => client.allocsPage({ ...filter, ...order, cursor, limit }), { limit: opts.limit });
      const n = await printListing(streamSink(), source, { output: g.output === 'json' ? 'json' : 'table', view: () => ALLOC_VIEW });
      if (n === 0 && g.output !== 'json') process.stdout.write(`no allocations${describeAllocFilter(filter)}\n`);
    });

  alloc
    .command('status')
    .description(
      'Show an allocation with each task (state, exit code, OOM kill, peak memory, restarts, events), what replaced it and what it replaced, and why',
    )
    .argument('<alloc>', "alloc id or unique id prefix (at least 4 characters), alloc name ('sim[3]': its newest attempt), or the name of a job of one alloc")
    .option('-n, --namespace <namespace>', `${NAMESPACE_OPTION_HELP}, for an alloc or job name`)
    .action(async (ref: string, opts: { namespace?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const a = await resolveAlloc(clientFor(cmd), ref, opts.namespace || defaultNamespace());
      if (g.output === 'json') return printJson(a);
      printAlloc(a);
    });
}

/** `baton node ls|status`: the machines, what they have and what runs on them. */
import { Option, type Command } from 'commander';
import type { NodeSummary, Resources } from '../../api/types.js';
import { formatBytes, formatCpu } from '../../spec/units.js';
import { clientFor, globalOptions } from '../config.js';
import { CliError, age, bytesUsage, cpuUsage, formatMap, naturalCompare, printJson, printTable, renderFields, shortId } from '../output.js';
import { pages, parseLimit, printListing, type TableView } from '../paging.js';
import { streamSink } from '../stream-out.js';
import { ALLOC_HEADERS, allocRows } from './job.js';

/** `docker, exec (unhealthy)`: unhealthy drivers are listed, marked, since that is why allocs avoid the node. */
export function formatDrivers(drivers: NodeSummary['drivers']): string {
  const names = Object.keys(drivers).sort();
  if (names.length === 0) return '-';
  return names.map((n) => (drivers[n].healthy ? n : `${n} (unhealthy)`)).join(', ');
}

const NODE_VIEW: TableView<NodeSummary> = {
  headers: ['ID', 'NAME', 'STATUS', 'ELIGIBILITY', 'CLASS', 'CPU', 'MEMORY', 'ALLOCS', 'DRIVERS', 'HEARTBEAT'],
  row: (n) => [
    shortId(n.id),
    n.name,
    n.status,
    n.drain ? 'draining' : n.eligibility,
    n.nodeClass || '-',
    cpuUsage(n.used.cpu, n.capacity.cpu),
    bytesUsage(n.used.memory, n.capacity.memory),
    String(n.allocCount),
    formatDrivers(n.drivers),
    age(n.lastHeartbeatAt),
  ],
};

export function registerNodeCommand(program: Command): void {
  const node = program.command('node').description('List and inspect the nodes running `baton agent`');

  node
    .command('ls')
    .alias('list')
    .description('List nodes with their capacity and use')
    .addOption(new Option('--limit <n>', 'show at most this many nodes (default: all, read page by page)').argParser(parseLimit))
    .action(async (opts: { limit?: number }, cmd: Command) => {
      const g = globalOptions(cmd);
      const client = clientFor(cmd);
      const source = pages((cursor, limit) => client.nodesPage({ cursor, limit }), { limit: opts.limit });
      const n = await printListing(streamSink(), source, { output: g.output === 'json' ? 'json' : 'table', view: () => NODE_VIEW });
      if (n === 0 && g.output !== 'json') process.stdout.write('no nodes: start one with `baton agent`\n');
    });

  node
    .command('status')
    .description('Show a node: facts, labels, drivers, capacity against use, and its allocations')
    .argument('<node>', 'node id, unique id prefix, or name')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const g = globalOptions(cmd);
      const res = await clientFor(cmd).getNode(id);
      if (g.output === 'json') return printJson(res);
      const n = res.node;
      const out = (s: string) => process.stdout.write(s + '\n');
      out(
        renderFields([
          ['ID', n.id],
          ['Name', n.name],
          ['Status', n.status],
          ['Eligibility', n.drain ? `${n.eligibility}, draining since ${n.drain.startedAt} (deadline ${n.drain.deadline})` : n.eligibility],
          ['Class', n.nodeClass || '-'],
          ['Datacenter', n.datacenter || '-'],
          ['Labels', formatMap(n.labels)],
          ['Heartbeat', `${age(n.lastHeartbeatAt)} ago (ttl ${Math.round(n.heartbeatTtlMs / 1000)}s)`],
          ['Registered', `${n.registeredAt} (${age(n.registeredAt)} ago)`],
        ]),
      );
      out('\nResources');
      const row = (label: string, r: Resources) => [label, formatCpu(r.cpu), formatBytes(r.memory), formatBytes(r.disk)];
      const free: Resources = {
        cpu: Math.max(0, n.capacity.cpu - n.used.cpu),
        memory: Math.max(0, n.capacity.memory - n.used.memory),
        disk: Math.max(0, n.capacity.disk - n.used.disk),
      };
      printTable(['', 'CPU', 'MEMORY', 'DISK'], [row('capacity', n.capacity), row('used', n.used), row('free', free), row('reserved', n.reserved)]);
      out('  (capacity is what allocs may use: the machine minus what is reserved for other software)');
      out('\nDrivers');
      const drivers = Object.entries(n.drivers).sort(([a], [b]) => naturalCompare(a, b));
      if (drivers.length)
        printTable(
          ['DRIVER', 'HEALTHY', 'DETAIL'],
          drivers.map(([k, d]) => [k, d.healthy ? 'yes' : 'no', d.detail || '']),
        );
      else out('  none');
      out('\nAttributes');
      const attrs = Object.entries(n.attributes).sort(([a], [b]) => naturalCompare(a, b));
      out(attrs.length ? renderFields(attrs).replace(/^/gm, '  ') : '  none');
      out('\nAllocations');
      if (res.allocs.length) {
        // the node is the same for every row, so show the job instead
        const headers = ['NAME', ...ALLOC_HEADERS.filter((h) => h !== 'NODE')];
        const sorted = [...res.allocs].sort((a, b) => naturalCompare(a.name, b.name));
        printTable(
          headers,
          sorted.map((a) => {
            const [id, , index, attempt, desired, status, desc, ageStr] = allocRows([a])[0];
            return [a.name, id, index, attempt, desired, status, desc, ageStr];
          }),
        );
      } else out('  none');
    });

  node
    .command('drain')
    .description('Move the work off a node: it takes no new allocations, services move elsewhere, batch runs may finish until the deadline')
    .argument('<node>', 'node id, id prefix or name')
    .option('--deadline <duration>', 'how long batch runs may keep running before they are stopped and requeued elsewhere', '1h')
    .option('--cancel', 'end the drain and make the node eligible again')
    .action(async (ref: string, opts: { deadline: string; cancel?: boolean }, cmd: Command) => {
      const g = globalOptions(cmd);
      const n = await clientFor(cmd).drainNode(ref, opts.cancel ? { cancel: true } : { deadline: opts.deadline });
      if (g.output === 'json') return printJson(n);
      process.stdout.write(
        opts.cancel
          ? `node ${n.name} (${shortId(n.id)}): drain cancelled, eligible again\n`
          : `node ${n.name} (${shortId(n.id)}): draining until ${n.drain?.deadline ?? '?'}; follow with \`baton node status ${n.name}\`\n`,
      );
    });

  node
    .command('eligibility')
    .description('Allow (on) or forbid (off) new allocations on a node; running ones stay')
    .argument('<node>', 'node id, id prefix or name')
    .argument('<on|off>', 'on or off')
    .action(async (ref: string, value: string, _opts: unknown, cmd: Command) => {
      if (value !== 'on' && value !== 'off') throw new CliError(`eligibility is "on" or "off", not "${value}"`);
      const g = globalOptions(cmd);
      const n = await clientFor(cmd).setEligibility(ref, value === 'on');
      if (g.output === 'json') return printJson(n);
      process.stdout.write(`node ${n.name} (${shortId(n.id)}): ${n.eligibility}\n`);
    });
}

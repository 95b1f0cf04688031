/** `baton service ls|status`: the service registry — which healthy task answers for which service, and where. */
import type { Command } from 'commander';
import type { ServiceEndpoint, ServiceSummary } from '../../api/types.js';
import { clientFor, globalOptions } from '../config.js';
import { defaultNamespace } from '../namespace.js';
import { printJson, printTable, shortId } from '../output.js';

export function serviceRows(services: ServiceSummary[]): string[][] {
  return services.map((s) => [s.name, s.namespace, String(s.healthy), s.tags.length ? s.tags.join(',') : '-']);
}

export function endpointRows(endpoints: ServiceEndpoint[]): string[][] {
  return endpoints.map((e) => [`${e.address}:${e.port}`, shortId(e.allocId), e.jobId, e.task, e.nodeName, e.tags.length ? e.tags.join(',') : '-']);
}

export function registerServiceCommand(program: Command): void {
  const service = program.command('service').description('List services and the healthy endpoints registered under them');

  service
    .command('ls')
    .alias('list')
    .description('List the services running allocs declare, with how many endpoints are healthy')
    .option('-n, --namespace <ns>', 'only this namespace (default: every namespace the token may read)')
    .action(async (opts: { namespace?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const services = await clientFor(cmd).listServices(opts.namespace ?? '*');
      if (g.output === 'json') return printJson(services);
      if (services.length === 0) {
        process.stdout.write('no services: give a task `service: { name, port }` and at least one of its `ports`\n');
        return;
      }
      printTable(['NAME', 'NAMESPACE', 'HEALTHY', 'TAGS'], serviceRows(services));
    });

  service
    .command('status')
    .description("Show a service's healthy endpoints: the address and port to dial, and the alloc behind each")
    .argument('<name>', 'service name')
    .option('-n, --namespace <ns>', 'namespace of the service (default: $BATON_NAMESPACE or "default")')
    .action(async (name: string, opts: { namespace?: string }, cmd: Command) => {
      const namespace = opts.namespace ?? defaultNamespace();
      const g = globalOptions(cmd);
      const res = await clientFor(cmd).serviceEndpoints(name, { namespace });
      if (g.output === 'json') return printJson(res);
      if (res.endpoints.length === 0) {
        process.stdout.write(`service ${name} (namespace ${namespace}) has no healthy endpoints\n`);
        return;
      }
      process.stdout.write(`service ${name} (namespace ${namespace}): ${res.endpoints.length} healthy\n`);
      printTable(['ADDRESS', 'ALLOC', 'JOB', 'TASK', 'NODE', 'TAGS'], endpointRows(res.endpoints));
    });
}

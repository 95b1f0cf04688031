/** `baton events [-f]`: what happened in the cluster, one line per event, optionally followed live. */
import type { Command } from 'commander';
import type { Alloc, ClusterEvent, Deployment, Evaluation, EventTopic, Job, NodeInfo, SecretInfo } from '../../api/types.js';
import { BatonApiError } from '../../client/http.js';
import { clientFor, globalOptions } from '../config.js';
import { CliError, escapeControl, shortId } from '../output.js';

const TOPICS: EventTopic[] = ['job', 'alloc', 'node', 'eval', 'deployment', 'secret'];

export function parseTopics(value: string | undefined): EventTopic[] | undefined {
  if (value === undefined) return undefined;
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = names.filter((n) => !TOPICS.includes(n as EventTopic));
  if (bad.length > 0) throw new CliError(`unknown topic ${bad.map((b) => `"${b}"`).join(', ')}: topics are ${TOPICS.join(', ')}`);
  return names as EventTopic[];
}

/** the few words that say what changed, by topic */
export function summarize(e: ClusterEvent): string {
  const p = e.payload as Record<string, unknown> | undefined;
  if (!p) return '';
  switch (e.topic) {
    case 'job': {
      const j = p as unknown as Job;
      return `${j.namespace}/${j.id} v${j.version} ${j.stopped ? 'stopped' : j.status}`;
    }
    case 'alloc': {
      const a = p as unknown as Alloc;
      return `${a.name} on ${a.nodeName}: ${a.clientStatus}${a.desiredStatus === 'stop' ? ' (desired stop)' : ''}${a.clientDescription ? ` - ${a.clientDescription}` : ''}`;
    }
    case 'node': {
      const n = p as unknown as NodeInfo;
      return `${n.name} ${n.status}, ${n.eligibility}${n.drain ? ', draining' : ''}`;
    }
    case 'eval': {
      const ev = p as unknown as Evaluation;
      return `${ev.namespace}/${ev.jobId} ${ev.triggeredBy}: ${ev.status}${ev.statusDescription ? ` - ${ev.statusDescription}` : ''}`;
    }
    case 'deployment': {
      const d = p as unknown as Deployment;
      return `${d.namespace}/${d.jobId} v${d.jobVersion}: ${d.status}${d.statusDescription ? ` - ${d.statusDescription}` : ''}`;
    }
    case 'secret': {
      const x = p as unknown as SecretInfo;
      return `${x.namespace}/${x.name} v${x.version} (${x.keys.length} key${x.keys.length === 1 ? '' : 's'})`;
    }
    default:
      return '';
  }
}

/** time, topic, type, key, summary: aligned enough to read, plain enough to grep */
export function formatEventLine(e: ClusterEvent): string {
  const time = e.time.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  const key = e.topic === 'job' || e.topic === 'secret' ? e.key : shortId(e.key);
  return `${time}  ${e.topic.padEnd(10)} ${e.type.padEnd(18)} ${key.padEnd(10)} ${summarize(e)}`.trimEnd();
}

export function registerEventsCommand(program: Command): void {
  program
    .command('events')
    .description('Print cluster events (jobs, allocs, nodes, evals, deployments): those the server keeps, then with -f new ones as they happen')
    .option('-f, --follow', 'keep printing events as they happen (until Ctrl-C)')
    .option('--topic <topics>', `only these topics, comma-separated: ${TOPICS.join(', ')}`)
    .option('-n, --namespace <namespace>', 'only events of this namespace (node events are cluster-wide and always shown)')
    .option('--index <n>', 'only events after this store index')
    .addHelpText('after', '\nExamples:\n  baton events --topic job,alloc\n  baton events -f -n team-a\n  baton events -f -o json | jq .type')
    .action(async (opts: { follow?: boolean; topic?: string; namespace?: string; index?: string }, cmd: Command) => {
      const { output } = globalOptions(cmd);
      const client = clientFor(cmd);
      const topics = parseTopics(opts.topic);
      let index = opts.index !== undefined ? Number(opts.index) : 0;
      if (!Number.isSafeInteger(index) || index < 0) throw new CliError(`--index must be a whole number, not "${opts.index}"`);
      const print = (e: ClusterEvent): void => {
        process.stdout.write(`${output === 'json' ? JSON.stringify(e) : escapeControl(formatEventLine(e))}\n`);
      };
      if (!opts.follow) {
        const page = await client.recentEvents({ topics, namespace: opts.namespace, index });
        for (const e of page.events) print(e);
        return;
      }
      const stop = new AbortController();
      process.once('SIGINT', () => stop.abort());
      while (!stop.signal.aborted) {
        try {
          for await (const e of client.followEvents({ topics, namespace: opts.namespace, index }, stop.signal)) {
            print(e);
            index = Math.max(index, e.index);
          }
        } catch (err) {
          // the server restarting is no reason to stop following; anything else (a bad token) is
          if (!(err instanceof BatonApiError && err.status === 0)) throw err;
        }
        if (!stop.signal.aborted) await new Promise((r) => setTimeout(r, 1000));
      }
    });
}

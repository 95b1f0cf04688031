/** `baton system gc`: operator commands about the cluster as a whole. */
import type { Command } from 'commander';
import type { GcResponse } from '../../api/types.js';
import { BatonApiError } from '../../client/http.js';
import { formatDuration, parseDuration, UnitError } from '../../spec/units.js';
import { clientFor, globalOptions } from '../config.js';
import { CliError, formatCount, printJson, renderFields } from '../output.js';

/** `--older-than` is checked here so a typo is named before anything is collected */
export function checkOlderThan(text: string): string {
  try {
    parseDuration(text);
  } catch (err) {
    if (err instanceof UnitError) throw new CliError(`--older-than "${text}" is not a duration: write it like 0s (everything finished), 30m, 12h or 7d`);
    throw err;
  }
  return text.trim();
}

/** What one collection removed, as lines of text. */
export function renderGc(r: GcResponse): string[] {
  const counts: Array<[string, number]> = [
    ['jobs', r.jobs],
    ['runs', r.runs],
    ['allocs', r.allocs],
    ['evals', r.evals],
    ['deployments', r.deployments],
    ['log chunks', r.logChunks],
  ];
  const took = formatDuration(r.durationMs);
  if (counts.every(([, n]) => n === 0)) return [`nothing had finished before ${r.before}: nothing removed (${took})`];
  return [
    `removed what finished before ${r.before} (${took}):`,
    ...renderFields(counts.map(([k, n]) => [k, formatCount(n)]))
      .split('\n')
      .map((l) => `  ${l}`),
  ];
}

export function registerSystemCommand(program: Command): void {
  const system = program.command('system').description('Operate on the cluster as a whole (needs an operator or admin token)');

  system
    .command('gc')
    .description(
      "Remove finished jobs, sweep runs, allocations, evaluations, deployments and their logs now, instead of waiting for the server's periodic collection",
    )
    .option(
      '--older-than <duration>',
      "collect what finished longer ago than this, e.g. 0s (everything finished), 12h, 7d (default: the server's retention, 24h and 7d for sweeps unless configured otherwise)",
    )
    .addHelpText('after', ['', 'Examples:', '  baton system gc', '  baton system gc --older-than 0s -o json'].join('\n'))
    .action(async (opts: { olderThan?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const olderThan = opts.olderThan !== undefined ? checkOlderThan(opts.olderThan) : undefined;
      let res: GcResponse;
      try {
        res = await clientFor(cmd).gc(olderThan);
      } catch (err) {
        if (err instanceof BatonApiError && err.status === 404 && /no such route/.test(err.message)) {
          throw new CliError('this server has no POST /v1/system/gc: it is older than `baton system gc`; upgrade the server');
        }
        throw err;
      }
      if (g.output === 'json') return printJson(res);
      process.stdout.write(renderGc(res).join('\n') + '\n');
    });
}

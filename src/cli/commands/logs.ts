/** `baton logs ALLOC [TASK]`: a task's output, as written, optionally followed. */
import type { Command } from 'commander';
import type { Alloc } from '../../api/types.js';
import type { BatonClient } from '../../client/client.js';
import { BatonApiError } from '../../client/http.js';
import { resolveAlloc } from '../alloc-ref.js';
import { clientFor } from '../config.js';
import { defaultNamespace, NAMESPACE_OPTION_HELP } from '../namespace.js';
import { CliError } from '../output.js';

const FOLLOW_WAIT_MS = 30_000;

/** The task names of an alloc: from its task states, else (nothing reported yet) from its job version. */
async function taskNames(client: BatonClient, alloc: Alloc): Promise<string[]> {
  const names = Object.keys(alloc.taskStates);
  if (names.length > 0) return names.sort();
  const detail = await client.getJob(alloc.jobId, alloc.namespace);
  return detail.job.spec.tasks.map((t) => t.name);
}

/** Pick the task: the one asked for, or the only one; several need a name. */
export function chooseTask(names: string[], asked: string | undefined, allocName: string): string {
  if (asked !== undefined) {
    if (names.length > 0 && !names.includes(asked)) {
      throw new CliError(`${allocName} has no task "${asked}"; its tasks are: ${names.join(', ')}`);
    }
    return asked;
  }
  if (names.length === 1) return names[0];
  if (names.length === 0) throw new CliError(`${allocName} has no tasks`);
  throw new CliError(`${allocName} has ${names.length} tasks; name one: ${names.join(', ')}`);
}

function write(data: string): Promise<void> {
  // respect backpressure so `baton logs x | less` does not buffer everything in memory
  return new Promise((resolve) => {
    if (process.stdout.write(data)) resolve();
    else process.stdout.once('drain', resolve);
  });
}

export function registerLogsCommand(program: Command): void {
  program
    .command('logs')
    .description("Print a task's stdout (or stderr) of an allocation; -f follows until the task ends")
    .argument('<alloc>', "alloc id or unique id prefix, alloc name ('sim[3]': its newest attempt), or the name of a job of one alloc")
    .argument('[task]', 'task name (default: the only task of the alloc)')
    .option('--stderr', 'print stderr instead of stdout')
    .option('-f, --follow', 'keep printing new output until the task ends')
    .option('-n, --namespace <namespace>', `${NAMESPACE_OPTION_HELP}, for an alloc or job name`)
    .action(async (ref: string, task: string | undefined, opts: { stderr?: boolean; follow?: boolean; namespace?: string }, cmd: Command) => {
      const client = clientFor(cmd);
      const alloc = await resolveAlloc(client, ref, opts.namespace || defaultNamespace());
      const name = chooseTask(await taskNames(client, alloc), task, alloc.name);
      const stream = opts.stderr ? 'stderr' : 'stdout';
      let offset = 0;
      for (;;) {
        let res;
        try {
          res = await client.readLogs(alloc.id, {
            task: name,
            stream,
            offset,
            waitMs: opts.follow ? FOLLOW_WAIT_MS : undefined,
          });
        } catch (err) {
          // while following, a server restart should not end the stream
          if (opts.follow && err instanceof BatonApiError && err.status === 0) {
            await new Promise((r) => setTimeout(r, 1000));
            continue;
          }
          throw err;
        }
        if (res.data.length > 0) await write(res.data);
        const moved = res.nextOffset > offset;
        offset = Math.max(offset, res.nextOffset);
        // the server may answer in pages: without -f, read until a page brings nothing
        if (!opts.follow) {
          if (res.data.length === 0 || !moved) break;
          continue;
        }
        if (res.complete && (res.data.length === 0 || !moved)) break;
        // a server that answers at once instead of blocking must not make this spin
        if (res.data.length === 0) await new Promise((r) => setTimeout(r, 250));
      }
    });
}

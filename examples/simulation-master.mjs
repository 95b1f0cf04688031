#!/usr/bin/env node
// A simulation master: queues a sweep of runs from code, then prints each
// run's result as it finishes, the setup people otherwise build with a queue
// (Redis) and a results store (MongoDB) of their own.
//
//   npm install baton            (or: npm install /path/to/baton.tgz)
//   node simulation-master.mjs [runs]
//
// It finds the server as the CLI does: BATON_ADDR, BATON_TOKEN and
// BATON_CA_FILE, else the server `baton server` or `baton dev` started on
// this machine. Each run squares its seed; seeds divisible by 7 fail on
// purpose, to show how a failure reads.
import { connect } from 'baton/client';

const runs = Number(process.argv[2] ?? 20);
const client = await connect();

// the job as a YAML file would say it: a template that runs once per dispatch, its meta in the environment
const { job } = await client.submitSpec({
  name: 'square',
  type: 'batch',
  parameterized: { meta_required: ['seed'] },
  tasks: [
    {
      name: 'sim',
      driver: 'exec',
      command: '/bin/sh',
      args: ['-c', 's=$BATON_META_SEED; [ $((s % 7)) -eq 0 ] && { echo "seed $s diverged" >&2; exit 3; }; echo "result $((s * s))"'],
      resources: { cpu: '100m', memory: '32Mi' },
    },
  ],
});

// follow the events from now on before dispatching, so no run can end unseen
const { index } = await client.recentEvents({ topics: ['job'] });
const seeds = Array.from({ length: runs }, (_, i) => String(i + 1));
const sweep = await client.dispatch(
  job.id,
  seeds.map((seed) => ({ meta: { seed } })),
  job.namespace,
);
const pending = new Map(sweep.jobs.map((id, i) => [id, seeds[i]]));
console.log(`sweep ${sweep.sweepId}: ${sweep.total} runs of ${job.id} queued`);

/**
 * A task's whole output: the agent ships it a moment after the run ends, so wait for the rest.
 * @param {string} allocId
 * @param {'stdout' | 'stderr'} stream
 */
async function output(allocId, stream) {
  let text = '';
  let offset = 0;
  for (let i = 0; i < 20; i++) {
    const page = await client.readLogs(allocId, { task: 'sim', stream, offset, waitMs: 500 });
    text += page.data;
    offset = page.nextOffset;
    if (page.complete) break;
  }
  return text.trim();
}

const stop = new AbortController();
let failed = 0;
for await (const event of client.followEvents({ topics: ['job'], index }, stop.signal)) {
  const seed = pending.get(event.key);
  // a job event carries the job as it is now
  const status = /** @type {import('baton/client').Job | undefined} */ (event.payload)?.status;
  if (seed === undefined || status === undefined || !['complete', 'failed', 'stopped'].includes(status)) continue;
  pending.delete(event.key);
  // the run's output: its last alloc's stdout (stderr when it failed)
  const detail = await client.getJob(event.key, job.namespace);
  const alloc = detail.allocs.at(-1);
  const text = alloc ? await output(alloc.id, status === 'complete' ? 'stdout' : 'stderr') : '';
  if (status !== 'complete') failed++;
  console.log(`seed ${seed.padStart(3)}  ${status.padEnd(8)}  ${text}`);
  if (pending.size === 0) stop.abort();
}

const stats = (await client.runsPage(job.id, job.namespace, { sweepId: sweep.sweepId, limit: 1 })).sweep;
console.log(`done: ${stats?.states.complete ?? 0} complete, ${stats?.states.failed ?? 0} failed, median ${Math.round(stats?.durationMs?.p50 ?? 0)} ms per run`);
process.exitCode = failed > 0 ? 1 : 0;

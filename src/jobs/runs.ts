/**
 * One row per run, for sweep status tables and exports: what happened to a
 * run (a child job, or one index of a batch job) told from its latest alloc.
 */
import type { Alloc, Job, RunOutcome, RunRow, TaskState } from '../api/types.js';
import { formatBytes } from '../spec/units.js';

/**
 * The alloc a run's row tells of: its newest, unless an older one completed
 * (a completion reported late, after its node was marked lost): that one is
 * the run's result, and the replacement stopped for it is not.
 */
function latest(allocs: readonly Alloc[]): Alloc | undefined {
  let best: Alloc | undefined;
  let done: Alloc | undefined;
  for (const a of allocs) {
    if (!best || a.createIndex > best.createIndex) best = a;
    if (a.clientStatus === 'complete' && a.desiredStatus === 'run' && (!done || a.createIndex > done.createIndex)) done = a;
  }
  return done ?? best;
}

function outcomeOf(job: Job, alloc: Alloc | undefined, tasks: TaskState[]): RunOutcome {
  if (!alloc) return job.stopped ? 'stopped' : 'queued';
  if (alloc.preemptedBy && alloc.clientStatus !== 'complete') return 'preempted';
  switch (alloc.clientStatus) {
    case 'pending':
      return 'queued';
    case 'running':
      return 'running';
    case 'lost':
      return 'lost';
    case 'complete':
      return alloc.desiredStatus === 'stop' && tasks.some((t) => t.exitCode !== 0) ? 'stopped' : 'complete';
    case 'failed':
      if (tasks.some((t) => t.oomKilled)) return 'oom-killed';
      if (tasks.some((t) => t.timedOut)) return 'timed-out';
      return 'failed';
  }
}

function reasonOf(outcome: RunOutcome, alloc: Alloc | undefined, tasks: Array<[string, TaskState]>): string {
  if (!alloc) return outcome === 'stopped' ? 'stopped before it was placed' : 'waiting for capacity';
  if (outcome === 'oom-killed') {
    const [name, t] = tasks.find(([, x]) => x.oomKilled)!;
    const limit = t.memoryLimit ?? alloc.taskResources?.[name]?.memory;
    return `task ${name} OOM killed${limit ? ` at its ${formatBytes(limit)} limit` : ''}${t.peakMemory ? `, peak ${formatBytes(t.peakMemory)}` : ''}`;
  }
  if (outcome === 'timed-out') return alloc.clientDescription || 'timed out';
  if (outcome === 'failed') {
    const failed = tasks.find(([, x]) => x.failed);
    if (failed && failed[1].exitCode !== undefined) return `task ${failed[0]} exited with code ${failed[1].exitCode}`;
  }
  if (outcome === 'preempted') return `preempted by ${alloc.preemptedBy}`;
  return alloc.clientDescription;
}

export function runRow(job: Job, index: number, allocs: readonly Alloc[]): RunRow {
  const alloc = latest(allocs);
  const entries = alloc ? Object.entries(alloc.taskStates) : [];
  const tasks = entries.map(([, t]) => t);
  const outcome = outcomeOf(job, alloc, tasks);
  const started = tasks
    .map((t) => t.startedAt)
    .filter((x): x is string => !!x)
    .sort()[0];
  const finishedAll = tasks.map((t) => t.finishedAt);
  const finished = tasks.length && finishedAll.every(Boolean) ? (finishedAll as string[]).sort().at(-1) : undefined;
  const exit = tasks.find((t) => t.failed && t.exitCode !== undefined) ?? tasks.find((t) => t.exitCode !== undefined);
  const peaks = tasks.map((t) => t.peakMemory).filter((x): x is number => x !== undefined);
  const cpu = tasks.map((t) => t.cpuNanos).filter((x): x is number => x !== undefined);
  const limits = entries.map(([name, t]) => t.memoryLimit ?? alloc?.taskResources?.[name]?.memory).filter((x): x is number => x !== undefined);
  const requested = job.spec.tasks.reduce((n, t) => n + t.resources.memory, 0);
  return {
    jobId: job.id,
    index,
    meta: job.dispatch?.meta ?? {},
    outcome,
    reason: reasonOf(outcome, alloc, entries),
    ...(alloc ? { allocId: alloc.id, node: alloc.nodeName } : {}),
    attempt: alloc?.attempt ?? 0,
    ...(exit?.exitCode !== undefined ? { exitCode: exit.exitCode } : {}),
    ...(started && finished ? { durationMs: Date.parse(finished) - Date.parse(started) } : {}),
    ...(peaks.length ? { peakMemory: peaks.reduce((a, b) => a + b, 0) } : {}),
    ...(limits.length ? { memoryLimit: limits.reduce((a, b) => a + b, 0) } : {}),
    requestedMemory: requested,
    ...(cpu.length ? { cpuNanos: cpu.reduce((a, b) => a + b, 0) } : {}),
    ...(started ? { startedAt: started } : {}),
    ...(finished ? { finishedAt: finished } : {}),
  };
}

/** the runs of a plain batch job: one per index */
export function runsOfJob(job: Job, allocs: readonly Alloc[]): RunRow[] {
  // grouped once: a job of 10,000 indexes and as many allocs must not cost 10,000²
  const byIndex = new Map<number, Alloc[]>();
  for (const a of allocs) {
    if (a.jobVersion !== job.version) continue;
    const list = byIndex.get(a.index);
    if (list) list.push(a);
    else byIndex.set(a.index, [a]);
  }
  return Array.from({ length: job.spec.count }, (_, i) => runRow(job, i, byIndex.get(i) ?? []));
}

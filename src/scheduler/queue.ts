/**
 * A parent's queue: its waiting runs are placed in submission order, each as
 * the child job it is, on usage that already holds the runs placed before it
 * in the same pass. The first run that cannot be placed stops the pass (runs
 * start in order: a later, smaller run does not jump ahead), and what it asks
 * for is what wakes the queue again. One pass costs O(runs looked at), never
 * O(runs waiting): the store hands over only the head of the queue.
 */
import type { Alloc, Job, Resources } from '../api/types.js';
import { dominantShare } from './fair-share.js';
import { addInto } from './resources.js';
import { allocResources } from './retry.js';
import type { Plan, PlannedAlloc, Scheduler, SchedulerSnapshot } from './types.js';

/** what a placement of this pass holds on its node, for the placements after it */
function plannedUsage(p: PlannedAlloc, job: Job, evalId: string, n: number): Alloc {
  return {
    id: `planned-${n}`,
    namespace: job.namespace,
    jobId: job.id,
    jobVersion: p.jobVersion,
    name: p.name,
    index: p.index,
    nodeId: p.nodeId,
    nodeName: p.nodeName,
    evalId,
    desiredStatus: 'run',
    desiredDescription: '',
    clientStatus: 'pending',
    clientDescription: '',
    resources: p.resources,
    taskStates: {},
    attempt: p.attempt,
    ...(p.ports ? { ports: p.ports } : {}),
    createIndex: 0,
    modifyIndex: 0,
    createdAt: '',
    modifiedAt: '',
  };
}

export function scheduleQueue(
  snapshot: SchedulerSnapshot,
  parent: Job,
  scheduleOne: Scheduler,
): Pick<Plan, 'place' | 'stop' | 'failures' | 'queuedAllocs' | 'runs'> {
  const out: Pick<Plan, 'place' | 'stop' | 'failures' | 'queuedAllocs' | 'runs'> = {
    place: [],
    stop: [],
    failures: [],
    queuedAllocs: 0,
    runs: { started: [], ownEval: [], drained: true },
  };
  const runs = out.runs!;
  if (parent.stopped) return out;
  const usage = [...snapshot.usage];
  const fair = snapshot.fairShare;
  const mine: Resources = { ...(fair?.usage.get(parent.namespace) ?? { cpu: 0, memory: 0, disk: 0 }) };
  const othersLeast = fair && fair.waiting.length > 0 ? Math.min(...fair.waiting.map((ns) => dominantShare(fair.usage.get(ns), fair.total))) : Infinity;
  for (const run of snapshot.queue ?? []) {
    // Fair share: the room goes to the namespace holding least. Once this one holds more than
    // another that waits, the pass stops (after placing at least one run, so it always moves).
    if (fair && runs.started.length > 0 && dominantShare(mine, fair.total) > othersLeast) {
      runs.drained = false;
      runs.yielded = true;
      break;
    }
    const sub = scheduleOne({ ...snapshot, job: run.job, jobAllocs: run.allocs, usage, queue: undefined });
    out.stop.push(...sub.stop);
    for (const p of sub.place) {
      p.jobId = run.job.id;
      out.place.push(p);
      usage.push(plannedUsage(p, run.job, snapshot.eval.id, out.place.length));
      addInto(mine, p.resources);
    }
    if (sub.place.length > 0) runs.started.push(run.job.id);
    if (sub.queuedAllocs > 0) {
      out.failures = sub.failures;
      out.queuedAllocs = sub.queuedAllocs;
      runs.drained = false;
      if (sub.place.length > 0) {
        // placed in part (a run of several allocs): the rest is its own eval's to place
        runs.ownEval.push({ jobId: run.job.id });
      } else {
        runs.headAsk = allocResources(run.job.spec);
      }
      break;
    }
    // Nothing to place now (due later, or nothing wanted): the run leaves the queue for an eval of its own.
    if (sub.place.length === 0 || sub.followUpAt !== undefined) {
      runs.ownEval.push({ jobId: run.job.id, ...(sub.followUpAt !== undefined ? { at: sub.followUpAt } : {}) });
    }
  }
  return out;
}

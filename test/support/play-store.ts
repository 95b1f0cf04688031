/**
 * A test playing the server and its agents against a store: the leader's
 * eval loop (take the next eval due, schedule it on its snapshot, apply the
 * plan, until none is left) and an agent's report of a job's allocs.
 */
import type { AllocClientStatus } from '../../src/api/types.js';
import { schedule } from '../../src/scheduler/schedule.js';
import type { Store } from '../../src/store/store.js';

/** every eval due at `now` (the clock of each step when not given); how many were processed */
export async function runEvals(store: Store, now?: number): Promise<number> {
  let n = 0;
  for (;;) {
    const t = now ?? Date.now();
    const ev = await store.nextEval(t);
    if (!ev) return n;
    n++;
    await store.applyPlan(ev, schedule(await store.snapshot(ev, t)), now ?? Date.now());
  }
}

/** every alloc of job `jobId` (namespace default) reported in `status` by node `nodeId`; a dead one with exit code 0 */
export async function reportJob(store: Store, nodeId: string, jobId: string, status: AllocClientStatus): Promise<void> {
  const allocs = await store.listAllocs({ namespace: 'default', jobId });
  const dead = status === 'complete' || status === 'failed';
  await store.updateAllocs(
    nodeId,
    allocs.map((a) => ({
      allocId: a.id,
      clientStatus: status,
      clientDescription: status,
      taskStates: { main: { state: dead ? 'dead' : 'running', failed: status === 'failed', restarts: 0, events: [], ...(dead ? { exitCode: 0 } : {}) } },
    })),
    Date.now(),
  );
}

/**
 * What the node's watchdog does with an agent's lease (lease.ts), decided
 * without I/O: nothing while the agent process lives (it keeps to the bound
 * itself, disconnect-guard.ts); once it is gone, each task gets its kill
 * signal `stopAfterMs` after the agent's last server contact and SIGKILL at
 * `killAfterMs`, the bound the server counts on before it places a
 * replacement elsewhere.
 */
import type { AgentLease, LeaseTask } from './lease.js';

/** where the watchdog is with a task: signalled, SIGKILL sent, or known to be gone */
export type TaskProgress = 'signalled' | 'killed' | 'gone';

export interface WatchdogView {
  /** the lease's agent process exists (same pid and start time) */
  agentAlive: boolean;
  /** monotonic ms */
  now: number;
  /** by taskKey: what was done already */
  progress: ReadonlyMap<string, TaskProgress>;
}

export interface WatchdogDecision {
  /** send these their kill signal now */
  signal: LeaseTask[];
  /** SIGKILL these now */
  kill: LeaseTask[];
  /** ms until the next task falls due; undefined when none will */
  nextInMs?: number;
  /** the agent is gone and nothing of its lease is left running: the watchdog may exit */
  finished: boolean;
}

/** one task of one run: a new run of the task (restart) has a new handle */
export function taskKey(t: Pick<LeaseTask, 'allocId' | 'taskName' | 'handle'>): string {
  return `${t.allocId}/${t.taskName}/${t.handle.driver}:${t.handle.id}`;
}

export function decide(lease: AgentLease | undefined, view: WatchdogView): WatchdogDecision {
  const out: WatchdogDecision = { signal: [], kill: [], finished: false };
  if (view.agentAlive) return out;
  if (!lease) return { ...out, finished: true };
  const silent = view.now - lease.contactAt;
  let next: number | undefined;
  const due = (ms: number): void => {
    next = next === undefined ? ms : Math.min(next, ms);
  };
  let left = 0;
  for (const t of lease.tasks) {
    const p = view.progress.get(taskKey(t));
    if (p === 'gone') continue;
    left++;
    if (p === 'killed') continue;
    if (silent >= t.killAfterMs) {
      out.kill.push(t);
    } else if (silent >= t.stopAfterMs) {
      if (p !== 'signalled') out.signal.push(t);
      due(t.killAfterMs - silent);
    } else {
      due(t.stopAfterMs - silent);
    }
  }
  if (next !== undefined) out.nextInMs = next;
  out.finished = left === 0;
  return out;
}

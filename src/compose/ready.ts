/**
 * When a dependency counts as up, so `baton deploy` can submit the services
 * that depend on it: running (service_started) or running and healthy
 * (service_healthy). Pure, over the job detail the server returns.
 */
import type { Alloc, JobDetail } from '../api/types.js';
import type { DependencyCondition } from './translate.js';

export interface Readiness {
  ready: boolean;
  /** e.g. "1 of 2 running, 0 healthy" */
  detail: string;
  /** the job cannot get there: stopped, or every alloc failed */
  failed?: string;
}

/**
 * An alloc is healthy when the server says so. An agent that does not run
 * checks reports no health at all; then running is the best there is.
 */
export function allocHealthy(a: Alloc): boolean {
  if (a.healthy !== undefined) return a.healthy;
  const states = Object.values(a.taskStates ?? {});
  return states.length > 0 && states.every((t) => t.health === undefined || t.health === 'healthy');
}

function live(a: Alloc): boolean {
  return a.desiredStatus === 'run' && a.clientStatus === 'running';
}

export function dependencyReadiness(d: JobDetail, condition: DependencyCondition): Readiness {
  const { job } = d;
  const current = d.allocs.filter((a) => a.desiredStatus === 'run' && a.jobVersion === job.version);
  const running = current.filter(live);
  const healthy = running.filter(allocHealthy);
  // a system job has one alloc per eligible node: what the scheduler placed is what there is to wait for
  const want = job.spec.type === 'system' ? Math.max(1, current.length) : job.spec.count;
  const detail = `${running.length} of ${want} running${condition === 'service_healthy' ? `, ${healthy.length} healthy` : ''}`;
  if (job.stopped) return { ready: false, detail, failed: `job ${job.id} is stopped` };
  if (job.status === 'failed') return { ready: false, detail, failed: `job ${job.id} failed` };
  if (want === 0) return { ready: true, detail };
  const n = condition === 'service_healthy' ? healthy.length : running.length;
  return { ready: n >= want, detail };
}

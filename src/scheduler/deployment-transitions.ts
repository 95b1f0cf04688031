/**
 * What may happen to a deployment, as pure functions: promoting its
 * canaries, failing it, the scheduler's updates, the placements that join it
 * and the version an auto-revert goes back to. The store loads and saves;
 * the rules live here, tested on their own.
 */
import type { Alloc, Deployment } from '../api/types.js';
import type { DeploymentUpdate } from './types.js';

const short = (id: string): string => id.slice(0, 8);

/** why the canaries cannot be promoted now (undefined: they can); `canaries` are the deployment's live canary allocs */
export function promoteRefusal(d: Deployment, canaries: readonly Alloc[]): string | undefined {
  if (d.status !== 'running') return `deployment ${short(d.id)} is ${d.status}: only a running deployment can be promoted`;
  if (d.desiredCanaries === 0) return `deployment ${short(d.id)} has no canaries to promote`;
  if (d.promoted) return `deployment ${short(d.id)} is promoted already`;
  const healthy = canaries.filter((a) => a.healthy === true).length;
  if (canaries.length < d.desiredCanaries || healthy < canaries.length) {
    return `deployment ${short(d.id)}: ${healthy} of ${d.desiredCanaries} canaries are healthy; promote once all are`;
  }
  return undefined;
}

/** the allocs of `all` that are this deployment's live canaries */
export function liveCanaries(d: Deployment, all: readonly Alloc[]): Alloc[] {
  return all.filter((a) => a.deploymentId === d.id && a.canary && a.desiredStatus === 'run');
}

export function promote(d: Deployment): void {
  d.promoted = true;
  d.statusDescription = 'promoted: rolling out the rest';
}

/** why a user cannot fail it (undefined: they can) */
export function failRefusal(d: Deployment): string | undefined {
  return d.status !== 'running' && d.status !== 'paused' ? `deployment ${short(d.id)} is ${d.status} already` : undefined;
}

/**
 * An update applied in place. A finished deployment stays as it ended: only
 * its counts may still change. Answers whether it fails now (an auto-revert
 * may follow) and whether anything was applied.
 */
export function applyDeploymentUpdate(d: Deployment, u: DeploymentUpdate): { applied: boolean; failing: boolean } {
  const { id: _id, ...fields } = u;
  const terminal = d.status !== 'running' && d.status !== 'paused';
  if (terminal && (fields.status !== undefined || fields.statusDescription !== undefined)) return { applied: false, failing: false };
  Object.assign(d, fields);
  return { applied: true, failing: fields.status === 'failed' };
}

/**
 * The version a failed deployment with auto_revert goes back to: the newest
 * one that deployed successfully before it, else the one before it; none
 * before version 1.
 */
export function revertTarget(d: Deployment, lastSuccessfulVersion: number | undefined): number | undefined {
  const target = lastSuccessfulVersion ?? d.jobVersion - 1;
  return target >= 1 ? target : undefined;
}

/** the placements of a committed plan that joined it: its count and its canaries */
export function recordPlacements(d: Deployment, placed: readonly Alloc[]): boolean {
  const mine = placed.filter((a) => a.deploymentId === d.id);
  if (mine.length === 0) return false;
  d.placedAllocs += mine.length;
  d.canaries.push(...mine.filter((a) => a.canary).map((a) => a.id));
  return true;
}

import { describe, expect, it } from 'vitest';
import type { Alloc, Deployment } from '../api/types.js';
import { allocFromPlacement } from './plan-apply.js';
import { applyDeploymentUpdate, failRefusal, liveCanaries, promote, promoteRefusal, recordPlacements, revertTarget } from './deployment-transitions.js';

const deployment = (over: Partial<Deployment> = {}): Deployment => ({
  id: 'd0000000-1',
  namespace: 'default',
  jobId: 'web',
  jobVersion: 3,
  status: 'running',
  statusDescription: 'rolling out',
  strategy: { maxParallel: 1, canary: 1, minHealthyTimeMs: 1000, healthyDeadlineMs: 60_000, autoRevert: true },
  desiredTotal: 3,
  desiredCanaries: 1,
  canaries: [],
  promoted: false,
  placedAllocs: 0,
  healthyAllocs: 0,
  unhealthyAllocs: 0,
  createIndex: 1,
  modifyIndex: 1,
  createdAt: '',
  modifiedAt: '',
  ...over,
});

let seq = 0;
const alloc = (over: Partial<Alloc> = {}): Alloc => ({
  ...allocFromPlacement(
    { namespace: 'default', jobId: 'web' },
    { name: 'web[0]', index: 0, nodeId: 'n1', nodeName: 'n1', jobVersion: 3, resources: { cpu: 100, memory: 1, disk: 0 }, attempt: 0 },
    { evalId: 'e', index: 2, now: 0, newId: () => `a${++seq}` },
  ),
  ...over,
});

describe('deployment transitions', () => {
  it('promotes only a running deployment whose canaries are all placed and healthy', () => {
    const d = deployment();
    const canary = alloc({ deploymentId: d.id, canary: true });
    expect(promoteRefusal(d, liveCanaries(d, [canary]))).toMatch(/0 of 1 canaries are healthy; promote once all are/);
    canary.healthy = true;
    // a canary being stopped is not one of its live canaries
    expect(promoteRefusal(d, liveCanaries(d, [{ ...canary, desiredStatus: 'stop' }]))).toMatch(/0 of 1 canaries/);
    expect(promoteRefusal(d, liveCanaries(d, [canary, alloc({ deploymentId: 'other', canary: true })]))).toBeUndefined();
    promote(d);
    expect(d).toMatchObject({ promoted: true, statusDescription: 'promoted: rolling out the rest' });
    expect(promoteRefusal(d, [canary])).toMatch(/promoted already/);
    expect(promoteRefusal(deployment({ desiredCanaries: 0 }), [])).toMatch(/no canaries to promote/);
    expect(promoteRefusal(deployment({ status: 'successful' }), [])).toMatch(/is successful: only a running deployment can be promoted/);
  });

  it('may be failed while running or paused, not after it ended', () => {
    expect(failRefusal(deployment())).toBeUndefined();
    expect(failRefusal(deployment({ status: 'paused' }))).toBeUndefined();
    expect(failRefusal(deployment({ status: 'failed' }))).toMatch(/is failed already/);
  });

  it('keeps an ended deployment as it ended: only counts still change', () => {
    const d = deployment({ status: 'successful', statusDescription: 'done' });
    expect(applyDeploymentUpdate(d, { id: d.id, status: 'failed', statusDescription: 'late' })).toEqual({ applied: false, failing: false });
    expect(d.status).toBe('successful');
    expect(applyDeploymentUpdate(d, { id: d.id, healthyAllocs: 3 })).toEqual({ applied: true, failing: false });
    expect(d.healthyAllocs).toBe(3);
    const live = deployment();
    expect(applyDeploymentUpdate(live, { id: live.id, status: 'failed', statusDescription: 'unhealthy' })).toEqual({ applied: true, failing: true });
    expect(live).toMatchObject({ status: 'failed', statusDescription: 'unhealthy' });
  });

  it('reverts to the newest successful version before it, else the one before, never below 1', () => {
    expect(revertTarget(deployment({ jobVersion: 5 }), 2)).toBe(2);
    expect(revertTarget(deployment({ jobVersion: 5 }), undefined)).toBe(4);
    expect(revertTarget(deployment({ jobVersion: 1 }), undefined)).toBeUndefined();
  });

  it('counts the placements that joined it and lists its canaries', () => {
    const d = deployment();
    expect(recordPlacements(d, [alloc()])).toBe(false);
    const c = alloc({ deploymentId: d.id, canary: true });
    expect(recordPlacements(d, [c, alloc({ deploymentId: d.id }), alloc()])).toBe(true);
    expect(d).toMatchObject({ placedAllocs: 2, canaries: [c.id] });
  });
});

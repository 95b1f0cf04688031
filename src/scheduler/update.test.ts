import { describe, expect, it } from 'vitest';
import type { Alloc, Deployment, UpdateStrategy } from '../api/types.js';
import { checkPlan } from './check-plan.js';
import { Harness, type JobSpecInput } from './harness.js';
import { schedule } from './schedule.js';
import type { Plan } from './types.js';
import { rollout, WAITING_FOR_PROMOTION } from './update.js';

const SEC = 1000;

function strategy(extra: Partial<UpdateStrategy> = {}): UpdateStrategy {
  return { maxParallel: 1, minHealthyTimeMs: 10 * SEC, healthyDeadlineMs: 60 * SEC, autoRevert: false, canary: 0, ...extra };
}

function web(extra: JobSpecInput = {}): JobSpecInput {
  return { name: 'web', type: 'service', count: 4, update: strategy(), restart: { attempts: 2, intervalMs: 60_000, delayMs: 1000, mode: 'fail' }, ...extra };
}

/**
 * The harness plus what the store does with deployments: keeps the job's
 * latest one, applies the plan's changes, and marks placed allocs.
 */
class DeployHarness {
  h = new Harness();
  deployments: Deployment[] = [];
  private seq = 0;

  constructor() {
    this.h.addNodes(3);
  }

  latest(): Deployment | undefined {
    return this.deployments.at(-1);
  }

  evaluate(): { plan: Plan; placed: Alloc[] } {
    const snap = this.h.snapshot('web');
    const latest = this.latest();
    if (latest) snap.deployment = structuredClone(latest);
    const plan = schedule(snap);
    const check = checkPlan(plan, this.h.nodes, this.h.usage());
    const placed = this.h.apply(plan, check);
    const t = new Date(this.h.now).toISOString();
    for (const u of plan.deploymentUpdates ?? [])
      Object.assign(
        this.deployments.find((d) => d.id === u.id)!,
        u,
      );
    let dep = plan.deploymentId ? this.deployments.find((d) => d.id === plan.deploymentId) : undefined;
    if (plan.createDeployment) {
      dep = { ...structuredClone(plan.createDeployment), id: `dep-${++this.seq}`, createIndex: 0, modifyIndex: 0, createdAt: t, modifiedAt: t };
      this.deployments.push(dep);
    }
    check.accepted.forEach((p, i) => {
      if (!p.deployment || !dep) return;
      placed[i].deploymentId = dep.id;
      dep.placedAllocs++;
      if (p.canary) {
        placed[i].canary = true;
        dep.canaries.push(placed[i].id);
      }
    });
    return { plan, placed };
  }

  healthy(a: Alloc): void {
    this.h.setClientStatus(a.id, 'running');
    a.healthy = true;
    a.healthySince = new Date(this.h.now).toISOString();
  }

  /** healthy allocs of the job that are meant to run */
  serving(): Alloc[] {
    return this.h.liveAllocsOf('web').filter((a) => a.healthy === true);
  }
}

function started(extra: JobSpecInput = {}): DeployHarness {
  const d = new DeployHarness();
  d.h.submit(web(extra));
  const first = d.evaluate();
  expect(first.plan.createDeployment).toBeUndefined();
  for (const a of first.placed) d.healthy(a);
  d.h.advance(60 * SEC);
  return d;
}

describe('rolling updates', () => {
  it('replaces one alloc at a time and stops an old one only after its replacement was healthy for min_healthy_time', () => {
    const d = started();
    const old = d.h.liveAllocsOf('web');
    d.h.submit(web({ meta: { rev: '2' } }));

    for (let step = 0; step < 4; step++) {
      const r = d.evaluate();
      expect(r.placed).toHaveLength(1);
      expect(r.placed[0]).toMatchObject({ jobVersion: 2, index: step, previousAllocId: old[step].id, deploymentId: d.latest()!.id });
      if (step === 0) expect(r.plan.createDeployment).toMatchObject({ jobVersion: 2, status: 'running', desiredTotal: 4 });
      expect(d.h.alloc(old[step].id).desiredStatus).toBe('run');
      expect(d.serving().length).toBeGreaterThanOrEqual(4);

      // pending, then healthy but not for long enough: nothing moves, a follow-up is asked for
      expect(d.evaluate().plan).toMatchObject({ place: [], stop: [] });
      d.healthy(r.placed[0]);
      const early = d.evaluate().plan;
      expect(early).toMatchObject({ place: [], stop: [] });
      expect(early.followUpAt).toBe(d.h.now + 10 * SEC);
      d.h.advance(10 * SEC);
      if (step < 3) {
        // the next eval stops the old alloc and starts the next replacement together
        const next = structuredClone(d.h.snapshot('web'));
        next.deployment = d.latest();
        const plan = schedule(next);
        expect(plan.stop).toEqual([{ allocId: old[step].id, description: 'replaced by version 2' }]);
        expect(plan.place.map((p) => p.index)).toEqual([step + 1]);
      }
      // the agents stop what was stopped before the next step looks
      d.h.settleStops();
    }
    const last = d.evaluate();
    expect(last.plan.stop).toEqual([{ allocId: old[3].id, description: 'replaced by version 2' }]);
    expect(d.latest()).toMatchObject({ status: 'successful', healthyAllocs: 4, placedAllocs: 4 });
    d.h.settleStops();
    expect(d.h.liveAllocsOf('web').map((a) => a.jobVersion)).toEqual([2, 2, 2, 2]);
    expect(d.evaluate().plan).toMatchObject({ place: [], stop: [] });
  });

  it('max_parallel 2 keeps two replacements in flight', () => {
    const d = started({ update: strategy({ maxParallel: 2 }) });
    d.h.submit(web({ update: strategy({ maxParallel: 2 }), meta: { rev: '2' } }));
    const r = d.evaluate();
    expect(r.placed.map((a) => a.index)).toEqual([0, 1]);
    d.healthy(r.placed[0]);
    d.h.advance(10 * SEC);
    const r2 = d.evaluate();
    expect(r2.plan.stop).toHaveLength(1);
    expect(r2.placed.map((a) => a.index)).toEqual([2]);
  });

  it('a replacement not healthy by healthy_deadline fails the deployment and the old allocs keep running', () => {
    const d = started();
    d.h.submit(web({ meta: { rev: 'bad' } }));
    const [bad] = d.evaluate().placed;
    d.h.setClientStatus(bad.id, 'running');
    bad.healthy = false;
    d.h.advance(61 * SEC);
    const r = d.evaluate();
    expect(r.plan).toMatchObject({ place: [], stop: [] });
    expect(d.latest()).toMatchObject({ status: 'failed', unhealthyAllocs: 1 });
    expect(d.latest()!.statusDescription).toMatch(/not healthy within 60s/);
    expect(d.h.liveAllocsOf('web').filter((a) => a.jobVersion === 1)).toHaveLength(4);
    // a failed deployment replaces nothing more
    d.h.advance(60 * SEC);
    expect(d.evaluate().plan).toMatchObject({ place: [], stop: [] });
  });

  it('a replacement that fails fails the deployment at once', () => {
    const d = started();
    d.h.submit(web({ meta: { rev: 'crash' } }));
    const [bad] = d.evaluate().placed;
    d.h.setClientStatus(bad.id, 'failed');
    d.evaluate();
    expect(d.latest()!.status).toBe('failed');
    expect(d.latest()!.statusDescription).toMatch(/failed/);
  });

  it('a newer version cancels the running deployment and starts its own', () => {
    const d = started();
    d.h.submit(web({ meta: { rev: '2' } }));
    d.evaluate();
    const first = d.latest()!;
    d.h.submit(web({ meta: { rev: '3' } }));
    const r = d.evaluate();
    expect(first).toMatchObject({ status: 'cancelled', statusDescription: 'superseded by version 3' });
    expect(d.latest()).toMatchObject({ jobVersion: 3, status: 'running' });
    // the v2 replacement never counted: it is one more old alloc, and index 0 starts over at version 3
    expect(r.placed.map((a) => [a.index, a.jobVersion])).toEqual([[0, 3]]);
    expect(r.placed[0].deploymentId).toBe(d.latest()!.id);
  });

  it('a change of count only starts no deployment', () => {
    const d = started();
    const job = d.h.jobs.get('web')!;
    job.spec.count = 5;
    const r = d.evaluate();
    expect(r.plan.createDeployment).toBeUndefined();
    expect(r.placed.map((a) => a.index)).toEqual([4]);
  });

  it('a job without update replaces everything at once, as before', () => {
    const d = started({ update: undefined });
    d.h.submit(web({ update: undefined, meta: { rev: '2' } }));
    const r = d.evaluate();
    expect(r.plan.stop).toHaveLength(4);
    expect(r.placed).toHaveLength(4);
    expect(d.latest()).toBeUndefined();
  });
});

describe('canaries', () => {
  it('places the canaries beside the old allocs, waits for promotion, then rolls the rest', () => {
    const d = started({ update: strategy({ canary: 1 }) });
    const old = d.h.liveAllocsOf('web');
    d.h.submit(web({ update: strategy({ canary: 1 }), meta: { rev: '2' } }));
    const r = d.evaluate();
    expect(r.placed).toHaveLength(1);
    expect(r.placed[0]).toMatchObject({ canary: true, index: 0 });
    expect(d.latest()).toMatchObject({ status: 'running', statusDescription: WAITING_FOR_PROMOTION, desiredCanaries: 1, canaries: [r.placed[0].id] });
    d.healthy(r.placed[0]);
    d.h.advance(60 * SEC);
    // healthy and waiting: still nothing stops
    expect(d.evaluate().plan).toMatchObject({ place: [], stop: [] });
    expect(d.h.liveAllocsOf('web')).toHaveLength(5);

    d.latest()!.promoted = true;
    const p = d.evaluate();
    expect(p.plan.stop).toEqual([{ allocId: old[0].id, description: 'replaced by version 2' }]);
    expect(p.placed.map((a) => [a.index, a.canary ?? false])).toEqual([[1, false]]);
  });

  it('an unhealthy canary fails the deployment', () => {
    const d = started({ update: strategy({ canary: 2 }) });
    d.h.submit(web({ update: strategy({ canary: 2 }), meta: { rev: '2' } }));
    const r = d.evaluate();
    expect(r.placed).toHaveLength(2);
    d.h.advance(61 * SEC);
    d.evaluate();
    expect(d.latest()).toMatchObject({ status: 'failed', unhealthyAllocs: 2 });
  });
});

describe('job stop', () => {
  it('cancels the running deployment', () => {
    const d = started();
    d.h.submit(web({ meta: { rev: '2' } }));
    d.evaluate();
    d.h.stopJob('web');
    d.evaluate();
    expect(d.latest()).toMatchObject({ status: 'cancelled', statusDescription: 'job stopped' });
  });
});

describe('rollout after a revert', () => {
  it('stops what is left of a failed version without a deployment when every index already runs the current one, healthy', () => {
    const h = new Harness();
    h.addNodes(1);
    const job = h.submit(web());
    const t = new Date(h.now - 60 * SEC).toISOString();
    const alloc = (id: string, version: number, healthy: boolean): Alloc => ({
      id,
      namespace: 'default',
      jobId: job.id,
      jobVersion: version,
      name: 'web[0]',
      index: 0,
      nodeId: h.nodes[0].id,
      nodeName: h.nodes[0].name,
      evalId: 'e',
      desiredStatus: 'run',
      desiredDescription: '',
      clientStatus: 'running',
      clientDescription: '',
      resources: { cpu: 100, memory: 1, disk: 0 },
      taskStates: {},
      attempt: 0,
      healthy,
      ...(healthy ? { healthySince: t } : {}),
      createIndex: 1,
      modifyIndex: 1,
      createdAt: t,
      modifiedAt: t,
    });
    const current = alloc('v4', job.version, true);
    const failed = alloc('v3', job.version - 1, false);
    const r = rollout(job, undefined, [{ index: 0, older: [failed], current }], [current, failed], h.now);
    expect(r.createDeployment).toBeUndefined();
    expect(r.stop).toEqual([{ allocId: 'v3', description: `replaced by version ${job.version}` }]);
    // an index still to replace does need a deployment
    const r2 = rollout(
      job,
      undefined,
      [
        { index: 0, older: [failed], current },
        { index: 1, older: [alloc('old', job.version - 1, true)] },
      ],
      [current, failed],
      h.now,
    );
    expect(r2.createDeployment).toBeDefined();
  });
});

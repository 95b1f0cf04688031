import { describe, expect, it } from 'vitest';
import type { Alloc, JobDetail, TaskState } from '../api/types.js';
import { allocHealthy, dependencyReadiness } from './ready.js';

function alloc(over: Partial<Alloc> & { health?: TaskState['health'] } = {}): Alloc {
  const { health, ...rest } = over;
  return {
    id: 'a',
    namespace: 'default',
    jobId: 'j',
    jobVersion: 1,
    name: 'j[0]',
    index: 0,
    nodeId: 'n',
    nodeName: 'n',
    evalId: 'e',
    desiredStatus: 'run',
    desiredDescription: '',
    clientStatus: 'running',
    clientDescription: '',
    resources: { cpu: 1, memory: 1, disk: 0 },
    taskStates: { main: { state: 'running', failed: false, restarts: 0, events: [], ...(health ? { health } : {}) } },
    attempt: 0,
    createIndex: 1,
    modifyIndex: 1,
    createdAt: '',
    modifiedAt: '',
    ...rest,
  };
}

function detail(
  allocs: Alloc[],
  over: { count?: number; type?: 'service' | 'system'; stopped?: boolean; status?: 'running' | 'failed'; version?: number } = {},
): JobDetail {
  return {
    job: {
      id: 'j',
      namespace: 'default',
      version: over.version ?? 1,
      stopped: over.stopped ?? false,
      status: over.status ?? 'running',
      submittedAt: '',
      createIndex: 1,
      modifyIndex: 1,
      spec: { type: over.type ?? 'service', count: over.count ?? 2 } as JobDetail['job']['spec'],
    },
    summary: {} as JobDetail['summary'],
    allocs,
    allocsTotal: allocs.length,
    evals: [],
  };
}

describe('dependencyReadiness', () => {
  it('started: all of count running', () => {
    expect(dependencyReadiness(detail([alloc(), alloc({ clientStatus: 'pending' })]), 'service_started')).toEqual({ ready: false, detail: '1 of 2 running' });
    expect(dependencyReadiness(detail([alloc(), alloc()]), 'service_started').ready).toBe(true);
  });

  it('healthy: all running and healthy; an agent that reports no health counts running as healthy', () => {
    expect(dependencyReadiness(detail([alloc({ healthy: true }), alloc({ health: 'starting' })]), 'service_healthy')).toEqual({
      ready: false,
      detail: '2 of 2 running, 1 healthy',
    });
    expect(dependencyReadiness(detail([alloc({ healthy: true }), alloc()]), 'service_healthy').ready).toBe(true);
    expect(allocHealthy(alloc({ healthy: false }))).toBe(false);
    expect(allocHealthy(alloc({ health: 'unhealthy' }))).toBe(false);
  });

  it('ignores allocs of older versions and those being stopped', () => {
    const old = alloc({ jobVersion: 1 });
    const stopping = alloc({ desiredStatus: 'stop', jobVersion: 2 });
    expect(dependencyReadiness(detail([old, stopping, alloc({ jobVersion: 2 })], { version: 2 }), 'service_started').detail).toBe('1 of 2 running');
  });

  it('a system job waits for what was placed', () => {
    expect(dependencyReadiness(detail([alloc(), alloc({ clientStatus: 'pending' })], { type: 'system' }), 'service_started').ready).toBe(false);
    expect(dependencyReadiness(detail([alloc()], { type: 'system' }), 'service_started').ready).toBe(true);
  });

  it('says when waiting cannot help', () => {
    expect(dependencyReadiness(detail([], { stopped: true }), 'service_started').failed).toBe('job j is stopped');
    expect(dependencyReadiness(detail([], { status: 'failed' }), 'service_started').failed).toBe('job j failed');
  });
});

import { describe, expect, it } from 'vitest';
import type { Alloc, AllocDetail } from '../api/types.js';
import { allocFields, describeLink } from './commands/alloc.js';
import { renderFields } from './output.js';

function alloc(over: Partial<AllocDetail> = {}): AllocDetail {
  const a: Alloc = {
    id: '5e1d0c4b-0000-4000-8000-000000000002',
    namespace: 'default',
    jobId: 'sim',
    jobVersion: 1,
    name: 'sim[0]',
    index: 0,
    nodeId: '9a8b7c6d-0000-4000-8000-00000000000b',
    nodeName: 'n2',
    evalId: 'e0e0e0e0-0000-4000-8000-000000000000',
    desiredStatus: 'run',
    desiredDescription: '',
    clientStatus: 'running',
    clientDescription: '1 of 1 tasks running',
    resources: { cpu: 100, memory: 128 * 1024 ** 2, disk: 0 },
    taskStates: {},
    attempt: 0,
    createIndex: 9,
    modifyIndex: 9,
    createdAt: '2026-12-01T22:00:00Z',
    modifiedAt: '2026-12-01T22:00:00Z',
  };
  return { ...a, ...over };
}

const lost = 'lost: node n1 missed its heartbeats for 15s';

describe('alloc status', () => {
  it('prints what a replacement replaced and why', () => {
    const text = renderFields(
      allocFields(
        alloc({
          previousAllocId: '3f2a9c1e-0000-4000-8000-000000000001',
          replaces: { id: '3f2a9c1e-0000-4000-8000-000000000001', name: 'sim[0]', nodeName: 'n1', clientStatus: 'lost', reason: lost },
        }),
      ),
    );
    expect(text).toMatch(new RegExp(`^Replaces {3}3f2a9c1e on n1 \\(lost\\) — ${lost}$`, 'm'));
    expect(text).not.toContain('Replaced by');
    expect(text).toMatch(/^Attempt {4}0$/m);
  });

  it('prints what replaced an alloc and why, and a collected one by its id', () => {
    const text = renderFields(
      allocFields(
        alloc({
          clientStatus: 'failed',
          previousAllocId: '11111111-0000-4000-8000-000000000000',
          replacedBy: {
            id: '7c7c7c7c-0000-4000-8000-000000000003',
            name: 'sim[0]',
            nodeName: 'n3',
            clientStatus: 'pending',
            reason: 'failed (exit 3), retry 2 of 3',
          },
        }),
      ),
    );
    expect(text).toContain('\nReplaced by  7c7c7c7c on n3 (pending) — failed (exit 3), retry 2 of 3\n');
    expect(text).toContain('\nReplaces     11111111 (collected)\n');
    expect(text.indexOf('Replaced by')).toBeLessThan(text.indexOf('Replaces'));
  });

  it('prints neither for a first placement, and a link without a node', () => {
    const text = renderFields(allocFields(alloc()));
    expect(text).not.toMatch(/Replace/);
    expect(describeLink({ id: '7c7c7c7c-0000-4000-8000-000000000003', clientStatus: 'pending', reason: 'node drain: moving off n1' })).toBe(
      '7c7c7c7c (pending) — node drain: moving off n1',
    );
  });
});

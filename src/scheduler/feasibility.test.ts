import { describe, expect, it } from 'vitest';
import type { Constraint } from '../api/types.js';
import { constraintHolds, interpolate, staticReason, whyNot } from './feasibility.js';
import { explainFailures } from './explain.js';
import { Harness, makeNode, makeSpec } from './harness.js';

const node = makeNode({
  id: 'n1',
  name: 'box-1',
  nodeClass: 'gpu',
  datacenter: 'eu-1',
  attributes: { 'cpu.cores': '16', 'os.name': 'debian', 'kernel.version': '6.1.0', features: 'avx, avx2,sse4' },
  labels: { zone: 'a' },
  drivers: { exec: { healthy: true, detail: '' }, docker: { healthy: false, detail: 'down' } },
});

const c = (attribute: string, operator: Constraint['operator'], value = ''): Constraint => ({ attribute, operator, value });

describe('constraints', () => {
  it('interpolates node, attr, label and driver facts', () => {
    expect(interpolate(node, '${node.class}/${node.name}/${node.datacenter}/${node.id}')).toBe('gpu/box-1/eu-1/n1');
    expect(interpolate(node, '${attr.os.name}')).toBe('debian');
    expect(interpolate(node, '${label.zone}')).toBe('a');
    expect(interpolate(node, '${driver.exec}|${driver.docker}|${driver.qemu}')).toBe('true|false|false');
    expect(interpolate(node, '${attr.missing}')).toBeUndefined();
    expect(interpolate(node, 'plain')).toBe('plain');
  });

  it('compares numerically when both sides are numbers, as strings otherwise', () => {
    expect(constraintHolds(node, c('${attr.cpu.cores}', '>=', '8'))).toBe(true);
    expect(constraintHolds(node, c('${attr.cpu.cores}', '>', '9'))).toBe(true); // "16" < "9" as strings
    expect(constraintHolds(node, c('${attr.cpu.cores}', '<', '16'))).toBe(false);
    expect(constraintHolds(node, c('${attr.cpu.cores}', '<=', '16'))).toBe(true);
    expect(constraintHolds(node, c('${attr.cpu.cores}', '=', '16.0'))).toBe(true);
    expect(constraintHolds(node, c('${attr.kernel.version}', '>', '6.1'))).toBe(true); // string: "6.1.0" > "6.1"
    expect(constraintHolds(node, c('${node.class}', '=', 'gpu'))).toBe(true);
    expect(constraintHolds(node, c('${node.class}', '!=', 'gpu'))).toBe(false);
    expect(constraintHolds(node, c('${label.zone}', '!=', 'b'))).toBe(true);
  });

  it('regexp, set_contains, is_set and is_not_set', () => {
    expect(constraintHolds(node, c('${attr.os.name}', 'regexp', '^deb'))).toBe(true);
    expect(constraintHolds(node, c('${attr.os.name}', 'regexp', '^ubu'))).toBe(false);
    expect(constraintHolds(node, c('${attr.os.name}', 'regexp', '('))).toBe(false);
    expect(constraintHolds(node, c('${attr.features}', 'set_contains', 'avx2,avx'))).toBe(true);
    expect(constraintHolds(node, c('${attr.features}', 'set_contains', 'avx512'))).toBe(false);
    expect(constraintHolds(node, c('${label.zone}', 'is_set'))).toBe(true);
    expect(constraintHolds(node, c('${label.rack}', 'is_set'))).toBe(false);
    expect(constraintHolds(node, c('${label.rack}', 'is_not_set'))).toBe(true);
  });

  it('a missing attribute fails every comparison, != included', () => {
    expect(constraintHolds(node, c('${attr.nope}', '!=', 'x'))).toBe(false);
    expect(constraintHolds(node, c('${attr.nope}', '=', ''))).toBe(false);
  });
});

describe('node checks', () => {
  it('reports the first reason in order: status, eligibility, datacenter, driver, constraint, resources', () => {
    const spec = makeSpec({ datacenters: ['eu-1'], tasks: [{ driver: 'exec' }], constraints: [c('${node.class}', '=', 'gpu')] });
    expect(staticReason(node, spec)).toBeUndefined();
    expect(staticReason({ ...node, status: 'initializing' }, spec)).toEqual({ dimension: 'node-status', status: 'initializing' });
    expect(staticReason({ ...node, eligibility: 'ineligible' }, spec)).toEqual({ dimension: 'eligibility' });
    expect(staticReason(node, { ...spec, datacenters: ['us-1'] })).toEqual({ dimension: 'datacenter', datacenter: 'eu-1' });
    expect(staticReason(node, makeSpec({ tasks: [{ driver: 'exec' }, { driver: 'docker' }] }))).toEqual({ dimension: 'driver', driver: 'docker' });
    expect(staticReason({ ...node, nodeClass: 'cpu' }, spec)).toMatchObject({ dimension: 'constraint' });

    const cap = node.capacity;
    const ask = { cpu: 100, memory: 1, disk: 0 };
    expect(whyNot(node, spec, ask, { cpu: 0, memory: cap.memory, disk: 0 })).toEqual({ dimension: 'memory' });
    expect(whyNot(node, spec, ask, { cpu: cap.cpu - 99, memory: 0, disk: 0 })).toEqual({ dimension: 'cpu' });
    expect(whyNot(node, spec, ask, { cpu: cap.cpu - 100, memory: cap.memory - 1, disk: cap.disk })).toBeUndefined();
  });
});

describe('more constraint operators', () => {
  const box = makeNode({
    id: 'v1',
    attributes: { 'kernel.version': '6.1.0-18-amd64', 'docker.version': 'v24.0.7', tags: 'ssd, gpu', junk: 'latest' },
    labels: { rack: 'r1' },
  });

  it('version compares dotted numbers, ignoring distro suffixes', () => {
    expect(constraintHolds(box, c('${attr.kernel.version}', 'version', '>= 5.10, < 7'))).toBe(true);
    expect(constraintHolds(box, c('${attr.kernel.version}', 'version', '>= 6.2'))).toBe(false);
    expect(constraintHolds(box, c('${attr.kernel.version}', 'version', '= 6.1'))).toBe(true); // 6.1 = 6.1.0
    expect(constraintHolds(box, c('${attr.kernel.version}', 'version', '6.1.0'))).toBe(true);
    expect(constraintHolds(box, c('${attr.kernel.version}', 'version', '!= 6.1.0'))).toBe(false);
    expect(constraintHolds(box, c('${attr.kernel.version}', 'version', '> 6.1.0'))).toBe(false);
    expect(constraintHolds(box, c('${attr.kernel.version}', 'version', '<= 6.1.0'))).toBe(true);
    expect(constraintHolds(box, c('${attr.kernel.version}', 'version', '> 6.0.9'))).toBe(true); // numeric, not "6.1" vs "6.0.9" strings
    expect(constraintHolds(box, c('${attr.docker.version}', 'version', '>= 20.10'))).toBe(true);
    expect(constraintHolds(box, c('${attr.docker.version}', 'version', '~> 24.0'))).toBe(true);
    expect(constraintHolds(box, c('${attr.docker.version}', 'version', '~> 23.0'))).toBe(false);
    expect(constraintHolds(box, c('${attr.docker.version}', 'version', '~> 24.1'))).toBe(false);
    expect(constraintHolds(box, c('${attr.docker.version}', 'version', '~> 24.0.5'))).toBe(true);
    expect(constraintHolds(box, c('${attr.docker.version}', 'version', '~> 24.1.0'))).toBe(false);
  });

  it('version fails on a missing or unparsable attribute and on a malformed constraint', () => {
    expect(constraintHolds(box, c('${attr.missing}', 'version', '>= 1'))).toBe(false);
    expect(constraintHolds(box, c('${attr.junk}', 'version', '>= 0'))).toBe(false);
    expect(constraintHolds(box, c('${attr.kernel.version}', 'version', '>= banana'))).toBe(false);
    expect(constraintHolds(box, c('${attr.kernel.version}', 'version', ''))).toBe(false);
    expect(constraintHolds(box, c('${attr.kernel.version}', 'version', '>= 1,,'))).toBe(false);
  });

  it('set_contains_any needs one of the values', () => {
    expect(constraintHolds(box, c('${attr.tags}', 'set_contains_any', 'nvme,gpu'))).toBe(true);
    expect(constraintHolds(box, c('${attr.tags}', 'set_contains_any', 'nvme, tpu'))).toBe(false);
    expect(constraintHolds(box, c('${attr.missing}', 'set_contains_any', 'gpu'))).toBe(false);
  });

  it('distinct_hosts on its own only asks that the node has the attribute', () => {
    expect(constraintHolds(box, c('', 'distinct_hosts'))).toBe(true);
    expect(constraintHolds(box, c('${label.rack}', 'distinct_hosts'))).toBe(true);
    expect(constraintHolds(box, c('${label.zone}', 'distinct_hosts'))).toBe(false);
  });
});

describe('distinct_hosts placement', () => {
  it('never puts two allocs of the job on one node; the rest wait with a reason', () => {
    const h = new Harness();
    h.addNodes(2, (i) => ({ id: `n${i}` }));
    h.submit({ name: 'db', type: 'service', count: 3, constraints: [c('', 'distinct_hosts')] });
    const r = h.evaluate('db');
    expect(r.placed.map((a) => a.nodeId)).toEqual(['n0', 'n1']);
    expect(r.plan.queuedAllocs).toBe(1);
    expect(r.plan.failures).toContainEqual({
      dimension: 'constraint',
      message: 'constraint distinct_hosts filtered 2 nodes',
      nodesEvaluated: 2,
      nodesFiltered: 2,
      neverFits: false,
    });

    // Usage counts too: a later eval does not double up either, until a node joins.
    expect(h.evaluate('db').placed).toEqual([]);
    h.addNode({ id: 'n2' });
    expect(h.evaluate('db').placed.map((a) => a.nodeId)).toEqual(['n2']);
  });

  it('with an attribute, one alloc per value; nodes without it are filtered', () => {
    const h = new Harness();
    h.addNode({ id: 'a1', labels: { rack: 'a' } });
    h.addNode({ id: 'a2', labels: { rack: 'a' } });
    h.addNode({ id: 'b1', labels: { rack: 'b' } });
    h.addNode({ id: 'x' });
    h.submit({ name: 'db', type: 'service', count: 3, constraints: [c('${label.rack}', 'distinct_hosts')] });
    const r = h.evaluate('db');
    expect(r.placed.map((a) => a.nodeId).sort()).toEqual(['a1', 'b1']);
    expect(r.plan.queuedAllocs).toBe(1);
    // One line per constraint: the node without a rack and the three whose rack is taken.
    expect(r.plan.failures.map((f) => f.message)).toEqual(['constraint ${label.rack} distinct_hosts filtered 4 nodes']);
  });

  it('an alloc being replaced frees its node for the replacement', () => {
    const h = new Harness();
    h.addNodes(2, (i) => ({ id: `n${i}` }));
    h.submit({ name: 'db', type: 'service', count: 2, constraints: [c('', 'distinct_hosts')] });
    expect(h.evaluate('db').placed).toHaveLength(2);
    // A new version replaces both in one plan: the old allocs are stopping, so their nodes are free again.
    h.submit({ name: 'db', type: 'service', count: 2, constraints: [c('', 'distinct_hosts')], meta: { v: '2' } });
    const r = h.evaluate('db');
    expect(r.plan.stop.map((x) => x.description)).toEqual(['replaced by version 2', 'replaced by version 2']);
    expect(r.placed.map((a) => a.nodeId)).toEqual(['n0', 'n1']);
    expect(r.plan.queuedAllocs).toBe(0);
  });
});

describe('host volumes', () => {
  const vols = (v: Record<string, boolean>) => Object.fromEntries(Object.entries(v).map(([k, ro]) => [k, { path: `/srv/${k}`, readOnly: ro }]));

  it('a node must offer every mounted volume, writable when mounted read-write', () => {
    const spec = makeSpec({
      tasks: [
        { name: 'a', volumes: [{ volume: 'data', destination: '/data', readOnly: false }] },
        { name: 'b', volumes: [{ volume: 'certs', destination: '/certs', readOnly: true }] },
      ],
    });
    expect(staticReason(makeNode({ volumes: vols({ data: false, certs: true }) }), spec)).toBeUndefined();
    expect(staticReason(makeNode({ volumes: vols({ data: false, certs: false }) }), spec)).toBeUndefined();
    expect(staticReason(makeNode({ volumes: vols({ certs: true }) }), spec)).toEqual({ dimension: 'volume', volume: 'data', problem: 'missing' });
    expect(staticReason(makeNode(), spec)).toEqual({ dimension: 'volume', volume: 'data', problem: 'missing' });
    expect(staticReason(makeNode({ volumes: vols({ data: true, certs: true }) }), spec)).toEqual({ dimension: 'volume', volume: 'data', problem: 'read-only' });
  });

  it('places only where the volumes are and explains the rest', () => {
    const h = new Harness();
    h.addNode({ id: 'n0', volumes: vols({ data: false }) });
    h.addNode({ id: 'n1', volumes: vols({ data: true }) });
    h.addNodes(2, (i) => ({ id: `n${i + 2}` }));
    h.addNode({ id: 'down', status: 'down' });
    h.submit({ name: 'pg', count: 2, tasks: [{ volumes: [{ volume: 'data', destination: '/var/lib/pg', readOnly: false }] }] });
    const r = h.evaluate('pg');
    expect(r.placed.map((a) => a.nodeId)).toEqual(['n0', 'n0']);

    h.node('n0').status = 'down';
    h.submit({ name: 'pg2', tasks: [{ volumes: [{ volume: 'data', destination: '/var/lib/pg', readOnly: false }] }] });
    const r2 = h.evaluate('pg2');
    expect(r2.plan.failures.map((f) => [f.dimension, f.message, f.nodesFiltered])).toEqual([
      ['node-status', '2 nodes are down', 2],
      ['volume', 'volume data: read-only (the job mounts it read-write) on 1 of 3 nodes', 1],
      ['volume', 'volume data: missing on 2 of 3 nodes', 2],
    ]);
  });
});

describe('operator allowances', () => {
  const execNode = (allowRoot?: string) =>
    makeNode({ drivers: { exec: { healthy: true, detail: '' } }, attributes: allowRoot === undefined ? {} : { 'driver.exec.allow_root': allowRoot } });
  const rootJob = (user: string | undefined) => {
    const spec = makeSpec();
    spec.tasks = spec.tasks.map((t) => ({ ...t, driver: 'exec' as const, command: 'id', ...(user !== undefined ? { user } : {}) }));
    return spec;
  };

  it('places a task asking for root only where the agent allows root', () => {
    for (const user of ['root', '0', '0:0', '000']) {
      expect(staticReason(execNode('false'), rootJob(user))).toEqual({ dimension: 'allowance', allowance: 'root' });
      expect(staticReason(execNode(), rootJob(user))).toEqual({ dimension: 'allowance', allowance: 'root' });
      expect(staticReason(execNode('true'), rootJob(user))).toBeUndefined();
    }
    for (const user of [undefined, 'nobody', '1000', '1000:0', 'rooty']) expect(staticReason(execNode('false'), rootJob(user))).toBeUndefined();
  });

  it('says why a root job waits and how to allow it', () => {
    const out = explainFailures([execNode('false'), execNode()], rootJob('root'), { cpu: 1, memory: 1, disk: 0 }, () => ({ cpu: 0, memory: 0, disk: 0 }));
    expect(out).toEqual([
      {
        dimension: 'allowance',
        message: 'needs to run as root (user: root): 2 nodes do not allow it (start the agent with --allow-root)',
        nodesEvaluated: 2,
        nodesFiltered: 2,
        neverFits: false,
      },
    ]);
  });
});

describe('docker allowances', () => {
  const dockerNode = (attributes: Record<string, string> = {}) => makeNode({ drivers: { docker: { healthy: true, detail: '' } }, attributes });
  const job = (t: Record<string, unknown>) => {
    const spec = makeSpec();
    spec.tasks = spec.tasks.map((x) => ({ ...x, driver: 'docker' as const, image: 'busybox', ...t }));
    return spec;
  };

  it('places each docker ask only where the agent allows that kind', () => {
    const asks: Array<[Record<string, unknown>, string, string]> = [
      [{ privileged: true }, 'privileged', 'driver.docker.allow.privileged'],
      [{ networkMode: 'host' }, 'host-network', 'driver.docker.allow.host_network'],
      [{ pidMode: 'host' }, 'host-pid', 'driver.docker.allow.host_pid'],
      [{ capAdd: ['NET_ADMIN'] }, 'cap-add', 'driver.docker.allow.cap_add'],
      [{ devices: ['/dev/fuse'] }, 'devices', 'driver.docker.allow.devices'],
    ];
    for (const [ask, allowance, attr] of asks) {
      expect(staticReason(dockerNode(), job(ask))).toEqual({ dimension: 'allowance', allowance });
      expect(staticReason(dockerNode({ [attr]: 'false' }), job(ask))).toEqual({ dimension: 'allowance', allowance });
      expect(staticReason(dockerNode({ [attr]: 'true' }), job(ask))).toBeUndefined();
    }
    expect(staticReason(dockerNode(), job({}))).toBeUndefined();
  });

  it('allows host binds by whole path prefix', () => {
    const bind = (source: string) => job({ mounts: [{ source, destination: '/in', readOnly: true }] });
    const node = dockerNode({ 'driver.docker.allow.host_paths': '/data,/scratch/' });
    expect(staticReason(node, bind('/data'))).toBeUndefined();
    expect(staticReason(node, bind('/scratch/x/y'))).toBeUndefined();
    expect(staticReason(node, bind('/database'))).toEqual({ dimension: 'allowance', allowance: 'host-path' });
    expect(staticReason(node, bind('/'))).toEqual({ dimension: 'allowance', allowance: 'host-path' });
    expect(staticReason(dockerNode(), bind('/data'))).toEqual({ dimension: 'allowance', allowance: 'host-path' });
  });

  it('says why a privileged job waits', () => {
    const out = explainFailures([dockerNode(), dockerNode()], job({ privileged: true }), { cpu: 1, memory: 1, disk: 0 }, () => ({
      cpu: 0,
      memory: 0,
      disk: 0,
    }));
    expect(out.map((f) => f.message)).toEqual(['needs privileged containers: 2 nodes do not allow it (start the agent with --allow privileged)']);
  });
});

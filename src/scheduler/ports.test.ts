import { describe, expect, it } from 'vitest';
import type { Alloc } from '../api/types.js';
import { checkPlan } from './check-plan.js';
import { Harness, makeNode, makeSpec, type EvaluateResult } from './harness.js';
import { assignPorts, collision, DEFAULT_PORT_RANGE, portReason, usedPortsByNode } from './ports.js';
import { schedule } from './schedule.js';

/** Evaluates like the server, then copies the assigned ports onto the allocs the way the store does. */
function evaluate(h: Harness, jobId: string): EvaluateResult {
  const r = h.evaluate(jobId);
  r.placed.forEach((a, i) => {
    const p = r.check.accepted[i].ports;
    if (p) a.ports = p;
  });
  return r;
}

const web = (count: number, ports: Array<{ name: string; static?: number; to?: number }>) => ({
  name: 'web',
  type: 'service' as const,
  count,
  tasks: [{ name: 'srv', ports }],
});

describe('port assignment', () => {
  it('dynamic ports take the lowest free ports of the range, skipping used and static ones; `to` is copied', () => {
    const node = makeNode({ portRange: { from: 30000, to: 30010 } });
    const spec = makeSpec({
      tasks: [
        {
          name: 'a',
          ports: [
            { name: 'http', to: 80 },
            { name: 'admin', static: 30001 },
          ],
        },
        { name: 'b', ports: [{ name: 'rpc' }] },
        { name: 'c' },
      ],
    });
    const used = new Set([30000, 30002]);
    expect(portReason(spec, node, used)).toBeUndefined();
    expect(assignPorts(spec, node, used)).toEqual({
      a: { http: { host: 30003, to: 80 }, admin: { host: 30001 } },
      b: { rpc: { host: 30004 } },
    });
    expect([...used].sort()).toEqual([30000, 30001, 30002, 30003, 30004]);
  });

  it('uses the default range when the node gives none', () => {
    const spec = makeSpec({ tasks: [{ ports: [{ name: 'http' }] }] });
    expect(assignPorts(spec, makeNode(), new Set())).toEqual({ main: { http: { host: DEFAULT_PORT_RANGE.from } } });
  });

  it('says why a node cannot give the ports: static in use, asked twice, range exhausted', () => {
    const node = makeNode({ portRange: { from: 40000, to: 40001 } });
    expect(portReason(makeSpec({ tasks: [{ ports: [{ name: 'a', static: 8080 }] }] }), node, new Set([8080]))).toEqual({ kind: 'in-use', port: 8080 });
    expect(
      portReason(
        makeSpec({
          tasks: [
            { name: 'x', ports: [{ name: 'a', static: 8080 }] },
            { name: 'y', ports: [{ name: 'b', static: 8080 }] },
          ],
        }),
        node,
        undefined,
      ),
    ).toEqual({
      kind: 'duplicate',
      port: 8080,
    });
    const three = makeSpec({ tasks: [{ ports: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] }] });
    expect(portReason(three, node, undefined)).toEqual({ kind: 'exhausted', needed: 3 });
    expect(portReason(makeSpec({ tasks: [{ ports: [{ name: 'a' }, { name: 'b' }] }] }), node, undefined)).toBeUndefined();
    expect(portReason(makeSpec({ tasks: [{ ports: [{ name: 'a' }, { name: 'b' }] }] }), node, new Set([40001]))).toEqual({ kind: 'exhausted', needed: 2 });
  });

  it('ports count as used while their alloc holds its node, even when told to stop', () => {
    const alloc = (id: string, nodeId: string, clientStatus: Alloc['clientStatus'], desiredStatus: Alloc['desiredStatus'], host: number) =>
      ({ id, nodeId, clientStatus, desiredStatus, ports: { t: { p: { host } } } }) as unknown as Alloc;
    const used = usedPortsByNode([
      alloc('1', 'n1', 'running', 'run', 1000),
      alloc('2', 'n1', 'running', 'stop', 1001),
      alloc('3', 'n1', 'complete', 'stop', 1002),
      alloc('4', 'n2', 'pending', 'run', 1003),
    ]);
    expect([...used.get('n1')!]).toEqual([1000, 1001]);
    expect([...used.get('n2')!]).toEqual([1003]);
    expect(collision({ t: { p: { host: 1001 } } }, used.get('n1'))).toBe(1001);
    expect(collision({ t: { p: { host: 1002 } } }, used.get('n1'))).toBeUndefined();
    expect(collision({ t: { p: { host: 5 }, q: { host: 5 } } }, undefined)).toBe(5);
  });
});

describe('placement with ports', () => {
  it('places each alloc with its ports; a static port keeps a second alloc off the node; queued with a reason', () => {
    const h = new Harness();
    h.addNodes(2, (i) => ({ id: `n${i}`, portRange: { from: 21000, to: 21999 } }));
    h.submit(web(3, [{ name: 'http', static: 8080, to: 80 }, { name: 'metrics' }]));
    const r = evaluate(h, 'web');
    expect(r.placed.map((a) => a.nodeId)).toEqual(['n0', 'n1']);
    expect(r.placed.map((a) => a.ports)).toEqual([
      { srv: { http: { host: 8080, to: 80 }, metrics: { host: 21000 } } },
      { srv: { http: { host: 8080, to: 80 }, metrics: { host: 21000 } } },
    ]);
    expect(r.plan.queuedAllocs).toBe(1);
    expect(r.plan.failures).toContainEqual({
      dimension: 'ports',
      message: 'port 8080: in use on 2 of 2 nodes',
      nodesEvaluated: 2,
      nodesFiltered: 2,
      neverFits: false,
    });

    // A third node joins: the queued alloc lands there; the others keep their ports.
    h.addNode({ id: 'n2' });
    const again = evaluate(h, 'web');
    expect(again.placed.map((a) => [a.nodeId, a.ports])).toEqual([['n2', { srv: { http: { host: 8080, to: 80 }, metrics: { host: 20000 } } }]]);
  });

  it("another job's ports are avoided: static conflicts move the alloc, dynamic ones pick the next free port", () => {
    const h = new Harness();
    h.addNode({ id: 'a', portRange: { from: 25000, to: 25100 } });
    h.addNode({ id: 'b', portRange: { from: 25000, to: 25100 } });
    h.submit({ name: 'first', tasks: [{ ports: [{ name: 'p', static: 9000 }, { name: 'd' }] }] });
    expect(evaluate(h, 'first').placed.map((a) => [a.nodeId, a.ports])).toEqual([['a', { main: { p: { host: 9000 }, d: { host: 25000 } } }]]);

    // Binpack would choose the fuller node a, but 9000 is taken there.
    h.submit({ name: 'second', tasks: [{ ports: [{ name: 'p', static: 9000 }] }] });
    expect(evaluate(h, 'second').placed.map((a) => a.nodeId)).toEqual(['b']);

    h.submit({ name: 'third', tasks: [{ ports: [{ name: 'x' }, { name: 'y' }] }] });
    h.node('b').eligibility = 'ineligible';
    expect(evaluate(h, 'third').placed.map((a) => [a.nodeId, a.ports])).toEqual([['a', { main: { x: { host: 25001 }, y: { host: 25002 } } }]]);
  });

  it('several allocs of one job on one node get distinct dynamic ports, the same in every run', () => {
    const h = new Harness();
    h.addNode({ id: 'a', portRange: { from: 30000, to: 30100 } });
    h.submit({ name: 'many', count: 3, tasks: [{ ports: [{ name: 'http' }] }] });
    const first = schedule(h.snapshot('many'));
    expect(first.place.map((p) => p.ports!.main.http.host)).toEqual([30000, 30001, 30002]);
    expect(schedule(h.snapshot('many')).place).toEqual(first.place);
  });

  it('a port freed by a finished alloc is handed out again', () => {
    const h = new Harness();
    h.addNode({ id: 'a' });
    h.submit({ name: 'once', type: 'batch', tasks: [{ ports: [{ name: 'p', static: 7000 }] }] });
    const [a] = evaluate(h, 'once').placed;
    h.submit({ name: 'next', type: 'batch', tasks: [{ ports: [{ name: 'p', static: 7000 }] }] });
    const blocked = evaluate(h, 'next');
    expect(blocked.plan.queuedAllocs).toBe(1);
    expect(blocked.plan.failures.map((f) => f.message)).toEqual(['port 7000: in use on 1 of 1 node']);
    h.setClientStatus(a.id, 'complete');
    expect(evaluate(h, 'next').placed).toHaveLength(1);
  });

  it('a job asking for the same static port twice never fits, and says so', () => {
    const h = new Harness();
    h.addNode({ id: 'a' });
    h.submit({
      name: 'dup',
      tasks: [
        { name: 'x', ports: [{ name: 'p', static: 80 }] },
        { name: 'y', ports: [{ name: 'q', static: 80 }] },
      ],
    });
    const r = evaluate(h, 'dup');
    expect(r.placed).toEqual([]);
    expect(r.plan.failures).toContainEqual(expect.objectContaining({ dimension: 'ports', message: 'port 80: asked for twice by this job', neverFits: true }));
  });

  it('system jobs get ports on every node and wait where a static port is taken', () => {
    const h = new Harness();
    h.addNodes(2, (i) => ({ id: `n${i}`, name: `box-${i}` }));
    h.submit({ name: 'hog', tasks: [{ ports: [{ name: 'p', static: 9100 }] }] });
    expect(evaluate(h, 'hog').placed.map((a) => a.nodeId)).toEqual(['n0']);
    h.submit({ name: 'exporter', type: 'system', tasks: [{ ports: [{ name: 'metrics', static: 9100 }] }] });
    const r = evaluate(h, 'exporter');
    expect(r.placed.map((a) => [a.nodeId, a.ports])).toEqual([['n1', { main: { metrics: { host: 9100 } } }]]);
    expect(r.plan.queuedAllocs).toBe(1);
    expect(r.plan.failures.map((f) => [f.dimension, f.message])).toEqual([['ports', 'port 9100: in use on node box-0']]);
  });
});

describe('checkPlan and ports', () => {
  it('rejects a placement whose ports collide with fresh usage or an earlier placement of the plan', () => {
    const h = new Harness();
    h.addNode({ id: 'a' });
    h.submit({ name: 'j', tasks: [{ ports: [{ name: 'p', static: 8500 }, { name: 'd' }] }] });
    const plan = schedule(h.snapshot('j'));
    expect(plan.place[0].ports).toEqual({ main: { p: { host: 8500 }, d: { host: 20000 } } });

    // Meanwhile another job took the dynamic port the plan picked.
    h.submit({ name: 'other', tasks: [{ ports: [{ name: 'q' }] }] });
    const other = evaluate(h, 'other');
    expect(other.placed[0].ports).toEqual({ main: { q: { host: 20000 } } });
    const check = checkPlan(plan, h.nodes, h.usage());
    expect(check.accepted).toEqual([]);
    expect(check.rejected).toEqual(plan.place);

    // Against the state the plan saw it fits, but not twice on the same node.
    const doubled = { ...plan, place: [plan.place[0], { ...plan.place[0], index: 1, name: 'j[1]' }] };
    const fresh = checkPlan(doubled, h.nodes, []);
    expect(fresh.accepted.map((p) => p.index)).toEqual([0]);
    expect(fresh.rejected.map((p) => p.index)).toEqual([1]);
  });
});

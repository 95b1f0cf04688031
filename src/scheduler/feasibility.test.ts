import { describe, expect, it } from 'vitest';
import type { Constraint } from '../api/types.js';
import { constraintHolds, interpolate, staticReason, whyNot } from './feasibility.js';
import { makeNode, makeSpec } from './harness.js';

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

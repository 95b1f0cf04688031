import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SpecError } from './errors.js';
import { parseJobObject, parseJobSource } from './parse.js';

const TASK = 'tasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n';

function specError(fn: () => unknown): SpecError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SpecError) return err;
    throw err;
  }
  throw new Error('expected a SpecError');
}

describe('parseJobSource', () => {
  it('fills in the defaults', () => {
    const { spec } = parseJobSource(`name: a\ntype: batch\n${TASK}`);
    expect(spec).toMatchObject({
      name: 'a', namespace: 'default', type: 'batch', count: 1, priority: 50, scheduling: 'binpack',
      retry: { attempts: 0, delayMs: 5000 }, restart: { attempts: 0, mode: 'fail' },
    });
    expect(spec.tasks[0]).toMatchObject({ args: [], env: {}, resources: { cpu: 100, memory: 128 * 1024 ** 2, disk: 0 }, killSignal: 'SIGTERM', killTimeoutMs: 5000 });
  });

  it('reads units for cpu, memory and durations', () => {
    const { spec } = parseJobSource(
      'name: a\ntype: service\nrestart: { attempts: 5, interval: 1m30s, delay: 250ms }\ntasks:\n  - name: m\n    driver: docker\n    image: busybox\n    resources: { cpu: 0.5, memory: 1.5Gi, disk: 2G }\n    kill_timeout: 30s\n',
    );
    expect(spec.tasks[0].resources).toEqual({ cpu: 500, memory: Math.round(1.5 * 1024 ** 3), disk: 2e9 });
    expect(spec.tasks[0].killTimeoutMs).toBe(30_000);
    expect(spec.restart).toEqual({ attempts: 5, intervalMs: 90_000, delayMs: 250, mode: 'fail' });
    expect(parseJobSource(`name: a\ntype: batch\ntasks:\n  - name: m\n    driver: exec\n    command: x\n    resources: { cpu: 500m }\n`).spec.tasks[0].resources.cpu).toBe(500);
  });

  it('accepts JSON', () => {
    const { spec } = parseJobSource(JSON.stringify({ name: 'j', type: 'batch', count: 4, tasks: [{ name: 't', driver: 'exec', command: '/bin/true', env: { A: 1 } }] }));
    expect(spec.count).toBe(4);
    expect(spec.tasks[0].env).toEqual({ A: '1' });
  });

  it('names the unknown field, its line and the likely intended one', () => {
    const e = specError(() => parseJobSource(`name: x\ntype: batch\ncuont: 2\n${TASK}`, 'job.yaml'));
    expect(e.message).toMatch(/job\.yaml/);
    expect(e.details[0]).toMatchObject({ path: 'cuont', line: 3 });
    expect(e.details[0].message).toMatch(/did you mean "count"/);
  });

  it('names a nested field with its path and line', () => {
    const e = specError(() => parseJobSource('name: x\ntype: batch\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n    resources:\n      memory: 12 gigs\n'));
    expect(e.details[0]).toMatchObject({ path: 'tasks[0].resources.memory', line: 8 });
    expect(e.details[0].message).toMatch(/12 gigs.*512Mi/);
  });

  it('reports every problem at once', () => {
    const e = specError(() => parseJobSource('name: X!\ntype: cron\ncount: -1\ntasks: []\n'));
    expect(e.details.map((d) => d.path).sort()).toEqual(['count', 'name', 'tasks', 'type']);
    expect(e.details.find((d) => d.path === 'count')?.line).toBe(3);
  });

  it('checks what depends on the driver', () => {
    expect(specError(() => parseJobSource('name: x\ntype: batch\ntasks:\n  - name: m\n    driver: docker\n')).details[0].path).toBe('tasks[0].image');
    expect(specError(() => parseJobSource('name: x\ntype: batch\ntasks:\n  - name: m\n    driver: exec\n')).details[0].path).toBe('tasks[0].command');
    const dup = specError(() => parseJobSource('name: x\ntype: batch\ntasks:\n  - { name: m, driver: exec, command: a }\n  - { name: m, driver: exec, command: b }\n'));
    expect(dup.details[0].message).toMatch(/used twice/);
  });

  it('rejects syntax errors, empty files and non-mappings with clear words', () => {
    expect(specError(() => parseJobSource('name: x\n  bad: [\n')).details[0].line).toBeGreaterThan(0);
    expect(specError(() => parseJobSource('  \n')).message).toMatch(/empty/);
    expect(specError(() => parseJobSource('- a\n')).message).toMatch(/mapping/);
  });

  it('validates spec objects without lines', () => {
    const e = specError(() => parseJobObject({ name: 'x', type: 'batch', count: 'three', tasks: [{ name: 'm', driver: 'exec', command: '/bin/true' }] }));
    expect(e.details[0]).toMatchObject({ path: 'count' });
    expect(e.details[0].line).toBeUndefined();
  });
});

describe('examples/', () => {
  const dir = join(import.meta.dirname, '../../examples');
  for (const f of readdirSync(dir).filter((x) => /\.(ya?ml|json)$/.test(x))) {
    it(`${f} is a valid job`, () => {
      expect(parseJobSource(readFileSync(join(dir, f), 'utf8'), f).spec.tasks.length).toBeGreaterThan(0);
    });
  }
});

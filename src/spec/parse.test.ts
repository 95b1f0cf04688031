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
      name: 'a',
      namespace: 'default',
      type: 'batch',
      count: 1,
      priority: 50,
      scheduling: 'binpack',
      retry: { attempts: 0, delayMs: 5000, maxDelayMs: 300_000 },
      preempt: false,
      restart: { attempts: 0, mode: 'fail' },
    });
    expect(spec.tasks[0]).toMatchObject({
      args: [],
      env: {},
      resources: { cpu: 100, memory: 128 * 1024 ** 2, disk: 0 },
      killSignal: 'SIGTERM',
      killTimeoutMs: 5000,
    });
  });

  it('reads units for cpu, memory and durations', () => {
    const { spec } = parseJobSource(
      'name: a\ntype: service\nrestart: { attempts: 5, interval: 1m30s, delay: 250ms }\ntasks:\n  - name: m\n    driver: docker\n    image: busybox\n    resources: { cpu: 0.5, memory: 1.5Gi, disk: 2G }\n    kill_timeout: 30s\n',
    );
    expect(spec.tasks[0].resources).toEqual({ cpu: 500, memory: Math.round(1.5 * 1024 ** 3), disk: 2e9 });
    expect(spec.tasks[0].killTimeoutMs).toBe(30_000);
    expect(spec.restart).toEqual({ attempts: 5, intervalMs: 90_000, delayMs: 250, mode: 'fail' });
    expect(
      parseJobSource(`name: a\ntype: batch\ntasks:\n  - name: m\n    driver: exec\n    command: x\n    resources: { cpu: 500m }\n`).spec.tasks[0].resources.cpu,
    ).toBe(500);
  });

  it('reads the disconnect trade-off, absent by default, and warns of two copies', () => {
    expect(parseJobSource(`name: a\ntype: batch\n${TASK}`).spec.disconnect).toBeUndefined();
    const kept = parseJobSource(`name: a\ntype: service\ndisconnect: { stop_after: never, replace_after: 5m }\n${TASK}`);
    expect(kept.spec.disconnect).toEqual({ stopAfterMs: null, replaceAfterMs: 300_000 });
    expect(kept.warnings).toEqual([]);
    const both = parseJobSource(`name: a\ntype: service\ndisconnect: { stop_after: never }\n${TASK}`);
    expect(both.warnings.join()).toMatch(/replacement runs while this copy may still run/);
    expect(parseJobSource(`name: a\ntype: batch\ndisconnect: { stop_after: 5s }\n${TASK}`).spec.disconnect).toEqual({ stopAfterMs: 5000 });
    const e = specError(() => parseJobSource(`name: a\ntype: batch\ndisconnect: { stop_after: soon, replce_after: 1s }\n${TASK}`));
    expect(e.details.map((d) => d.path).sort()).toEqual(['disconnect.replce_after', 'disconnect.stop_after']);
    expect(e.details.find((d) => d.path === 'disconnect.replce_after')!.message).toMatch(/did you mean "replace_after"/);
  });

  it('accepts JSON', () => {
    const { spec } = parseJobSource(
      JSON.stringify({ name: 'j', type: 'batch', count: 4, tasks: [{ name: 't', driver: 'exec', command: '/bin/true', env: { A: 1 } }] }),
    );
    expect(spec.count).toBe(4);
    expect(spec.tasks[0].env).toEqual({ A: '1' });
  });

  it('names the unknown field, its line and the likely intended one', () => {
    const e = specError(() => parseJobSource(`name: x\ntype: batch\ncuont: 2\n${TASK}`, 'job.yaml'));
    expect(e.message).toMatch(/job\.yaml/);
    expect(e.details[0]).toMatchObject({ path: 'cuont', line: 3 });
    expect(e.details[0].message).toMatch(/did you mean "count"/);
  });

  it('takes a cpu limit beside the request, never below it', () => {
    const job = (r: string) => `name: a\ntype: batch\ntasks:\n  - name: m\n    driver: exec\n    command: x\n    resources: ${r}\n`;
    expect(parseJobSource(job('{ cpu: 500m, cpu_limit: 2 }')).spec.tasks[0].resources).toEqual({ cpu: 500, cpuLimit: 2000, memory: 128 * 1024 ** 2, disk: 0 });
    expect(parseJobSource(job('{ cpu: 2 }')).spec.tasks[0].resources).not.toHaveProperty('cpuLimit');
    const below = specError(() => parseJobSource(job('{ cpu: 2, cpu_limit: 1 }')));
    expect(below.details[0]).toMatchObject({ path: 'tasks[0].resources.cpu_limit', line: 7 });
    expect(below.details[0].message).toMatch(/cpu_limit \(1 core\) is below the cpu request \(2 cores\)/);
    expect(specError(() => parseJobSource(job('{ cpu_limit: 50m }'))).details[0].message).toMatch(/below the cpu request \(100m, the default\)/);
    expect(specError(() => parseJobSource(job('{ cpu_limit: 0 }'))).details[0].message).toMatch(/more than 0/);
  });

  it('names a nested field with its path and line', () => {
    const e = specError(() =>
      parseJobSource('name: x\ntype: batch\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n    resources:\n      memory: 12 gigs\n'),
    );
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
    const dup = specError(() =>
      parseJobSource('name: x\ntype: batch\ntasks:\n  - { name: m, driver: exec, command: a }\n  - { name: m, driver: exec, command: b }\n'),
    );
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

describe('parameterized, periodic, preempt, retry growth, task timeout', () => {
  it('reads a parameterized job with its defaults', () => {
    const { spec } = parseJobSource(`name: sim\ntype: batch\nparameterized:\n  meta_required: [scenario]\n${TASK}`);
    expect(spec.parameterized).toEqual({ metaRequired: ['scenario'], metaOptional: [], payload: 'optional' });
    expect(spec.periodic).toBeUndefined();
    const full = parseJobSource(
      `name: sim\ntype: batch\nparameterized: { meta_required: [SCENARIO, seed_2], meta_optional: [_note], payload: required }\n${TASK}`,
    ).spec;
    expect(full.parameterized).toEqual({ metaRequired: ['SCENARIO', 'seed_2'], metaOptional: ['_note'], payload: 'required' });
  });

  it('rejects meta keys that cannot be environment variables, on their line', () => {
    const e = specError(() => parseJobSource(`name: sim\ntype: batch\nparameterized:\n  meta_required:\n    - ok\n    - 2bad\n${TASK}`));
    expect(e.details[0]).toMatchObject({ path: 'parameterized.meta_required[1]', line: 6 });
    expect(e.details[0].message).toMatch(/environment variable/);
    const dash = specError(() => parseJobSource(`name: sim\ntype: batch\nparameterized: { meta_optional: [a-b] }\n${TASK}`));
    expect(dash.details[0].path).toBe('parameterized.meta_optional[0]');
  });

  it('rejects a key both required and optional, a bad payload mode and unknown fields', () => {
    const both = specError(() => parseJobSource(`name: s\ntype: batch\nparameterized: { meta_required: [a], meta_optional: [a] }\n${TASK}`));
    expect(both.details[0]).toMatchObject({ path: 'parameterized.meta_optional[0]', line: 3 });
    expect(both.details[0].message).toMatch(/both required and optional/);
    const payload = specError(() => parseJobSource(`name: s\ntype: batch\nparameterized:\n  payload: maybe\n${TASK}`));
    expect(payload.details[0]).toMatchObject({ path: 'parameterized.payload', line: 4 });
    const unknown = specError(() => parseJobSource(`name: s\ntype: batch\nparameterized:\n  meta_requried: [a]\n${TASK}`));
    expect(unknown.details[0]).toMatchObject({ path: 'parameterized.meta_requried', line: 4 });
    expect(unknown.details[0].message).toMatch(/did you mean "meta_required"/);
  });

  it('reads a periodic job with timezone UTC and overlap skip by default', () => {
    expect(parseJobSource(`name: p\ntype: batch\nperiodic: { cron: "0 3 * * *" }\n${TASK}`).spec.periodic).toEqual({
      cron: '0 3 * * *',
      timezone: 'UTC',
      overlap: 'skip',
    });
    expect(parseJobSource(`name: p\ntype: batch\nperiodic: { cron: "*/5 * * * *", timezone: Europe/Paris, overlap: allow }\n${TASK}`).spec.periodic).toEqual({
      cron: '*/5 * * * *',
      timezone: 'Europe/Paris',
      overlap: 'allow',
    });
  });

  it('reports a bad cron expression and a bad time zone on their lines', () => {
    const e = specError(() => parseJobSource(`name: p\ntype: batch\nperiodic:\n  cron: "61 3 * * *"\n  timezone: Mars/Olympus\n${TASK}`));
    const byPath = Object.fromEntries(e.details.map((d) => [d.path, d]));
    expect(byPath['periodic.cron']).toMatchObject({ line: 4 });
    expect(byPath['periodic.cron'].message).toMatch(/not a valid cron expression.*minute/);
    expect(byPath['periodic.timezone']).toMatchObject({ line: 5 });
    expect(byPath['periodic.timezone'].message).toMatch(/unknown time zone "Mars\/Olympus"/);
    const parts = specError(() => parseJobSource(`name: p\ntype: batch\nperiodic: { cron: "every day" }\n${TASK}`));
    expect(parts.details[0]).toMatchObject({ path: 'periodic.cron', line: 3 });
    const overlap = specError(() => parseJobSource(`name: p\ntype: batch\nperiodic: { cron: "0 3 * * *", overlap: queue }\n${TASK}`));
    expect(overlap.details[0].path).toBe('periodic.overlap');
  });

  it('keeps parameterized and periodic to batch jobs, and never both', () => {
    const svc = specError(() => parseJobSource(`name: s\ntype: service\nperiodic: { cron: "0 3 * * *" }\n${TASK}`));
    expect(svc.details[0]).toMatchObject({ path: 'periodic', line: 3 });
    expect(svc.details[0].message).toMatch(/only for batch/);
    const psvc = specError(() => parseJobSource(`name: s\ntype: service\n${TASK}parameterized: {}\n`));
    expect(psvc.details[0]).toMatchObject({ path: 'parameterized', line: 7 });
    const both = specError(() => parseJobSource(`name: s\ntype: batch\nparameterized: {}\nperiodic: { cron: "0 3 * * *" }\n${TASK}`));
    expect(both.details).toHaveLength(1);
    expect(both.details[0]).toMatchObject({ path: 'periodic', line: 4 });
    expect(both.details[0].message).toMatch(/not both/);
  });

  it('reads preempt, and rejects a non-boolean', () => {
    expect(parseJobSource(`name: a\ntype: batch\npreempt: true\n${TASK}`).spec.preempt).toBe(true);
    expect(specError(() => parseJobSource(`name: a\ntype: batch\npreempt: yes please\n${TASK}`)).details[0]).toMatchObject({ path: 'preempt', line: 3 });
  });

  it('reads retry max_delay and on_oom with units', () => {
    const { spec } = parseJobSource(`name: a\ntype: batch\nretry: { attempts: 3, delay: 10s, max_delay: 2m, on_oom: { grow: 1.5, max: 48Gi } }\n${TASK}`);
    expect(spec.retry).toEqual({ attempts: 3, delayMs: 10_000, maxDelayMs: 120_000, onOom: { grow: 1.5, max: 48 * 1024 ** 3 } });
    // a delay above the default cap is not cut by it
    expect(parseJobSource(`name: a\ntype: batch\nretry: { delay: 10m }\n${TASK}`).spec.retry.maxDelayMs).toBe(600_000);
  });

  it('rejects grow <= 1, a max_delay below delay, and an on_oom max with no room to grow', () => {
    const grow = specError(() => parseJobSource(`name: a\ntype: batch\nretry:\n  on_oom:\n    grow: 1\n    max: 4Gi\n${TASK}`));
    expect(grow.details[0]).toMatchObject({ path: 'retry.on_oom.grow', line: 5 });
    expect(grow.details[0].message).toMatch(/more than 1/);
    const missing = specError(() => parseJobSource(`name: a\ntype: batch\nretry:\n  on_oom: { grow: 2 }\n${TASK}`));
    expect(missing.details[0].path).toBe('retry.on_oom.max');
    const delay = specError(() => parseJobSource(`name: a\ntype: batch\nretry:\n  delay: 1m\n  max_delay: 30s\n${TASK}`));
    expect(delay.details[0]).toMatchObject({ path: 'retry.max_delay', line: 5 });
    const max = specError(() =>
      parseJobSource(
        'name: a\ntype: batch\nretry: { on_oom: { grow: 2, max: 1Gi } }\ntasks:\n  - { name: m, driver: exec, command: x, resources: { memory: 2Gi } }\n',
      ),
    );
    expect(max.details[0]).toMatchObject({ path: 'retry.on_oom.max', line: 3 });
    expect(max.details[0].message).toMatch(/no room to grow.*2 GiB/);
  });

  it('reads a task timeout, and rejects zero', () => {
    expect(parseJobSource(`name: a\ntype: batch\n${TASK}    timeout: 30m\n`).spec.tasks[0].timeoutMs).toBe(1_800_000);
    expect(parseJobSource(`name: a\ntype: batch\n${TASK}`).spec.tasks[0].timeoutMs).toBeUndefined();
    expect(specError(() => parseJobSource(`name: a\ntype: batch\n${TASK}    timeout: 0\n`)).details[0]).toMatchObject({ path: 'tasks[0].timeout', line: 7 });
    expect(specError(() => parseJobSource(`name: a\ntype: batch\n${TASK}    timeout: soon\n`)).details[0]).toMatchObject({ path: 'tasks[0].timeout', line: 7 });
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

describe('task user and docker asks', () => {
  const fail = (src: string): string => {
    try {
      parseJobSource(src);
    } catch (err) {
      if (err instanceof SpecError) return err.details.map((d) => `${d.path}: ${d.message}`).join('\n');
      throw err;
    }
    throw new Error('expected a SpecError');
  };

  it('reads user and the docker asks', () => {
    const { spec } = parseJobSource(
      'name: a\ntype: batch\ntasks:\n  - name: m\n    driver: docker\n    image: busybox\n    user: 1000\n    privileged: true\n    network_mode: host\n    pid_mode: host\n    cap_add: [NET_ADMIN]\n    devices: ["/dev/fuse"]\n    mounts: [{ source: /data/in, destination: /in, read_only: true }]\n',
    );
    expect(spec.tasks[0]).toMatchObject({
      user: '1000',
      privileged: true,
      networkMode: 'host',
      pidMode: 'host',
      capAdd: ['NET_ADMIN'],
      devices: ['/dev/fuse'],
      mounts: [{ source: '/data/in', destination: '/in', readOnly: true }],
    });
    const exec = parseJobSource('name: a\ntype: batch\ntasks:\n  - name: m\n    driver: exec\n    command: id\n    user: nobody\n').spec.tasks[0];
    expect(exec.user).toBe('nobody');
    expect(exec.privileged).toBeUndefined();
  });

  it('says what is wrong with them', () => {
    expect(fail('name: a\ntype: batch\ntasks:\n  - name: m\n    driver: exec\n    command: id\n    privileged: true\n')).toMatch(
      /tasks\[0\]\.privileged: privileged is only for docker tasks/,
    );
    expect(fail('name: a\ntype: batch\ntasks:\n  - name: m\n    driver: exec\n    command: id\n    user: "a b"\n')).toMatch(/user must be a name or uid/);
    expect(fail('name: a\ntype: batch\ntasks:\n  - name: m\n    driver: docker\n    image: x\n    mounts: [{ source: data, destination: /in }]\n')).toMatch(
      /source must be an absolute host path/,
    );
    expect(fail('name: a\ntype: batch\ntasks:\n  - name: m\n    driver: docker\n    image: x\n    network_mode: none\n')).toMatch(
      /network_mode must be "bridge" \(the default\) or "host"/,
    );
  });
});

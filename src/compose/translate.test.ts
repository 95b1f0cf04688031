import { describe, expect, it } from 'vitest';
import type { JobSpec } from '../api/types.js';
import { SpecError } from '../spec/errors.js';
import { translateCompose, volumeNameForPath, type ComposeOptions, type ComposeStack } from './translate.js';

const FILES: Record<string, string> = {
  '/app/web.env': '# comment\nFROM_FILE=1\nOVERRIDDEN=file\nexport QUOTED="a b"\nSINGLE=\'$x\'\n',
  '/app/.env': 'TAG=1.2\nPORT=9000\n',
};

const OPTS: ComposeOptions = {
  filename: 'compose.yml',
  dir: '/app',
  stack: 'demo',
  env: { HOME_VAR: 'h' },
  home: '/home/u',
  readFile: (p) => {
    if (p in FILES) return FILES[p];
    throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
  },
};

function tr(src: string, opts: ComposeOptions = {}): ComposeStack {
  return translateCompose(src, { ...OPTS, ...opts });
}

/** one service named s, its body indented under it */
function svc(body: string, extra = ''): string {
  return `services:\n  s:\n    image: busybox\n${body.replace(/^/gm, '    ')}\n${extra}`;
}

function spec(src: string, opts?: ComposeOptions): JobSpec {
  return tr(src, opts).jobs[0].spec;
}

function errors(src: string, opts?: ComposeOptions): Array<{ path: string; message: string; line?: number }> {
  try {
    tr(src, opts);
  } catch (err) {
    if (err instanceof SpecError) return err.details;
    throw err;
  }
  throw new Error('expected a SpecError');
}

function warnings(src: string): string[] {
  return tr(src).warnings.map((w) => `${w.line}: ${w.path}: ${w.message}`);
}

describe('translateCompose: the service → job table', () => {
  const MiB = 1024 ** 2;
  const cases: Array<[string, string, (s: JobSpec) => unknown, unknown]> = [
    [
      'image and defaults',
      'ports: []',
      (s) => [s.name, s.type, s.count, s.meta, s.tasks[0].driver, s.tasks[0].image, s.tasks[0].name],
      ['demo-s', 'service', 1, { stack: 'demo', service: 's' }, 'docker', 'busybox', 's'],
    ],
    ['command as a list', 'command: ["httpd", "-f", "-p", 80]', (s) => [s.tasks[0].command, s.tasks[0].args], ['httpd', ['-f', '-p', '80']]],
    [
      'command as text is split like a shell',
      `command: sh -c "echo 'hi there' && sleep 1"`,
      (s) => [s.tasks[0].command, s.tasks[0].args],
      ['sh', ['-c', "echo 'hi there' && sleep 1"]],
    ],
    [
      'entrypoint then command',
      'entrypoint: ["/bin/sh", "-c"]\ncommand: ["echo hi"]',
      (s) => [s.tasks[0].command, s.tasks[0].args],
      ['/bin/sh', ['-c', 'echo hi']],
    ],
    ['environment as a list', 'environment: ["A=1", "B=x=y", "HOME_VAR"]', (s) => s.tasks[0].env, { A: '1', B: 'x=y', HOME_VAR: 'h' }],
    ['environment as a map', 'environment: { A: 1, B: true, HOME_VAR: null }', (s) => s.tasks[0].env, { A: '1', B: 'true', HOME_VAR: 'h' }],
    [
      'env_file, overridden by environment',
      'env_file: web.env\nenvironment: { OVERRIDDEN: env }',
      (s) => s.tasks[0].env,
      { FROM_FILE: '1', OVERRIDDEN: 'env', QUOTED: 'a b', SINGLE: '$x' },
    ],
    ['env_file long form, optional and missing', 'env_file: [{ path: nope.env, required: false }]', (s) => s.tasks[0].env, {}],
    [
      'interpolation from .env and defaults',
      'environment: { T: "${TAG}", P: "${PORT:-1}", D: "${NOPE:-dflt}", E: "$$HOME" }',
      (s) => s.tasks[0].env,
      { T: '1.2', P: '9000', D: 'dflt', E: '$HOME' },
    ],
    ['"8080:80" is a static host port to 80', 'ports: ["8080:80"]', (s) => s.tasks[0].ports, [{ name: 'p80', static: 8080, to: 80 }]],
    [
      '"80" is a dynamic host port to 80',
      'ports: ["80", 443]',
      (s) => s.tasks[0].ports,
      [
        { name: 'p80', to: 80 },
        { name: 'p443', to: 443 },
      ],
    ],
    [
      'ports long syntax, with a name',
      'ports: [{ target: 80, published: "8081", name: web }]',
      (s) => s.tasks[0].ports,
      [{ name: 'web', static: 8081, to: 80 }],
    ],
    ['the first port registers the service', 'ports: ["8080:80", "9090:90"]', (s) => s.tasks[0].service, { name: 'demo-s', port: 'p80', tags: [] }],
    ['same container port twice gets distinct names', 'ports: ["8080:80", "8081:80"]', (s) => s.tasks[0].ports!.map((p) => p.name), ['p80', 'p80_2']],
    ['deploy.replicas → count', 'deploy: { replicas: 3 }', (s) => s.count, 3],
    ['scale → count', 'scale: 2', (s) => s.count, 2],
    ['mode global → system job', 'deploy: { mode: global }', (s) => [s.type, s.count], ['system', 1]],
    [
      'limits → resources (docker sizes are binary)',
      'deploy: { resources: { limits: { cpus: "0.5", memory: 50M } } }',
      (s) => s.tasks[0].resources,
      { cpu: 500, cpuLimit: 500, memory: 50 * MiB, disk: 0 },
    ],
    [
      'a cpu reservation under the limit is the request, the limit the cap',
      'deploy: { resources: { limits: { cpus: 2 }, reservations: { cpus: 0.5 } } }',
      (s) => s.tasks[0].resources,
      { cpu: 500, cpuLimit: 2000, memory: 128 * MiB, disk: 0 },
    ],
    [
      'reservations when no limit',
      'deploy: { resources: { reservations: { cpus: 0.25, memory: 1g } } }',
      (s) => s.tasks[0].resources,
      { cpu: 250, memory: 1024 * MiB, disk: 0 },
    ],
    [
      'limit wins over reservation',
      'deploy: { resources: { limits: { memory: 256m }, reservations: { memory: 64m, cpus: 2 } } }',
      (s) => s.tasks[0].resources,
      { cpu: 2000, memory: 256 * MiB, disk: 0 },
    ],
    ['cpus and mem_limit', 'cpus: 1.5\nmem_limit: 300m', (s) => s.tasks[0].resources, { cpu: 1500, cpuLimit: 1500, memory: 300 * MiB, disk: 0 }],
    [
      'healthcheck CMD → command check with compose defaults',
      'healthcheck: { test: ["CMD", "wget", "-q", "http://localhost/"] }',
      (s) => s.tasks[0].checks,
      [
        {
          name: 'healthcheck',
          type: 'command',
          command: 'wget',
          args: ['-q', 'http://localhost/'],
          intervalMs: 30_000,
          timeoutMs: 30_000,
          retries: 3,
          startPeriodMs: 0,
          restartOnUnhealthy: true,
        },
      ],
    ],
    [
      'healthcheck CMD-SHELL with timings',
      'healthcheck: { test: ["CMD-SHELL", "curl -f x || exit 1"], interval: 1m30s, timeout: 500ms, retries: 5, start_period: 10s }',
      (s) => s.tasks[0].checks![0],
      expect.objectContaining({
        command: '/bin/sh',
        args: ['-c', 'curl -f x || exit 1'],
        intervalMs: 90_000,
        timeoutMs: 500,
        retries: 5,
        startPeriodMs: 10_000,
      }),
    ],
    [
      'healthcheck as text is a shell command',
      'healthcheck: { test: "test -f /ok" }',
      (s) => [s.tasks[0].checks![0].command, s.tasks[0].checks![0].args],
      ['/bin/sh', ['-c', 'test -f /ok']],
    ],
    ['healthcheck disable', 'healthcheck: { test: ["CMD", "x"], disable: true }', (s) => s.tasks[0].checks, undefined],
    ['healthcheck NONE', 'healthcheck: { test: ["NONE"] }', (s) => s.tasks[0].checks, undefined],
    [
      'restart_policy',
      'deploy: { restart_policy: { condition: on-failure, delay: 5s, max_attempts: 3, window: 2m } }',
      (s) => s.restart,
      { attempts: 3, delayMs: 5000, intervalMs: 120_000, mode: 'fail' },
    ],
    ['restart_policy none', 'deploy: { restart_policy: { condition: none } }', (s) => [s.restart.attempts, s.restart.mode], [0, 'fail']],
    ['restart_policy without max_attempts keeps trying', 'deploy: { restart_policy: { condition: any } }', (s) => s.restart.mode, 'delay'],
    ['restart: "no"', 'restart: "no"', (s) => s.restart.attempts, 0],
    ['restart: on-failure:4', 'restart: on-failure:4', (s) => [s.restart.attempts, s.restart.mode], [4, 'fail']],
    ['restart: always', 'restart: always', (s) => s.restart.mode, 'delay'],
    [
      'update_config → update',
      'deploy: { update_config: { parallelism: 2, failure_action: rollback, monitor: 30s } }',
      (s) => s.update,
      { maxParallel: 2, autoRevert: true, minHealthyTimeMs: 30_000, healthyDeadlineMs: 300_000, canary: 0 },
    ],
    ['update parallelism 0 = all replicas at once', 'deploy: { replicas: 4, update_config: { parallelism: 0 } }', (s) => s.update!.maxParallel, 4],
    [
      'placement constraints',
      'deploy: { placement: { constraints: ["node.labels.zone == a", "node.hostname != n1", "node.platform.arch == x86_64", "node.platform.os==linux"] } }',
      (s) => s.constraints,
      [
        { attribute: '${label.zone}', operator: '=', value: 'a' },
        { attribute: '${node.name}', operator: '!=', value: 'n1' },
        { attribute: '${attr.os.arch}', operator: '=', value: 'x64' },
        { attribute: '${attr.os.name}', operator: '=', value: 'linux' },
      ],
    ],
    [
      'max_replicas_per_node 1 → distinct hosts',
      'deploy: { placement: { max_replicas_per_node: 1 } }',
      (s) => s.constraints,
      [{ attribute: '', operator: 'distinct_hosts', value: '' }],
    ],
    [
      'spread preference',
      'deploy: { placement: { preferences: [{ spread: node.labels.zone }] } }',
      (s) => s.spread,
      [{ attribute: '${label.zone}', weight: 50 }],
    ],
    [
      'stop_signal and stop_grace_period',
      'stop_signal: SIGINT\nstop_grace_period: 1m',
      (s) => [s.tasks[0].killSignal, s.tasks[0].killTimeoutMs],
      ['SIGINT', 60_000],
    ],
    [
      'bind mount → host volume named after the path',
      'volumes: ["./data:/data:ro"]',
      (s) => s.tasks[0].volumes,
      [{ volume: 'app-data', destination: '/data', readOnly: true }],
    ],
    [
      'absolute bind, long syntax',
      'volumes: [{ type: bind, source: /srv/x, target: /x }]',
      (s) => s.tasks[0].volumes,
      [{ volume: 'srv-x', destination: '/x', readOnly: false }],
    ],
    ['home bind', 'volumes: ["~/cache:/c"]', (s) => s.tasks[0].volumes![0].volume, 'home-u-cache'],
    [
      'named volume → host volume of that name',
      'volumes: ["db:/var/lib/db"]',
      (s) => s.tasks[0].volumes,
      [{ volume: 'pgdata', destination: '/var/lib/db', readOnly: false }],
    ],
  ];
  const withTop = (body: string): string => svc(body, 'volumes:\n  db:\n    name: pgdata\n');
  it.each(cases)('%s', (_name, body, pick, expected) => {
    expect(pick(spec(withTop(body)))).toEqual(expected);
  });

  it('namespace goes into every job', () => {
    expect(spec(svc(''), { namespace: 'team' }).namespace).toBe('team');
  });

  it('YAML anchors and merge keys are expanded', () => {
    const src = 'x-base: &base\n  image: busybox\n  environment: { A: "1" }\nservices:\n  a:\n    <<: *base\n  b:\n    <<: *base\n    command: ["true"]\n';
    const r = tr(src);
    expect(r.jobs.map((j) => [j.name, j.spec.tasks[0].image, j.spec.tasks[0].env])).toEqual([
      ['demo-a', 'busybox', { A: '1' }],
      ['demo-b', 'busybox', { A: '1' }],
    ]);
  });

  it('outputs the job file format, which the job parser accepts as is', () => {
    const job = tr(svc('ports: ["80"]\nhealthcheck: { test: ["CMD", "true"], interval: 2s }\ndeploy: { resources: { limits: { memory: 64m } } }')).jobs[0].file;
    expect(job).toMatchObject({ name: 'demo-s', type: 'service', tasks: [{ resources: { memory: '64Mi' }, checks: [{ interval: '2s', timeout: '30s' }] }] });
  });
});

describe('translateCompose: stack name', () => {
  const src = 'name: fromfile\nservices:\n  a: { image: x }\n';
  it('takes --name, then COMPOSE_PROJECT_NAME, then name:, then the directory', () => {
    expect(tr(src).stack).toBe('demo');
    expect(tr(src, { stack: undefined, env: { COMPOSE_PROJECT_NAME: 'env' } }).stack).toBe('env');
    expect(tr(src, { stack: undefined }).stack).toBe('fromfile');
    expect(tr('services:\n  a: { image: x }\n', { stack: undefined, dir: '/home/u/My App' }).stack).toBe('myapp');
  });
  it('refuses a --name that is not a valid stack name', () => {
    expect(() => tr(src, { stack: 'Bad Name' })).toThrow(/stack name "Bad Name" is not valid/);
  });
  it('lowercases service names into job names, with a warning', () => {
    const r = tr('services:\n  Web: { image: x }\n');
    expect(r.jobs[0].name).toBe('demo-web');
    expect(r.warnings[0]).toMatchObject({ path: 'services.Web', line: 2 });
  });
});

describe('translateCompose: depends_on', () => {
  const src = `services:
  web:
    image: w
    depends_on:
      api: { condition: service_healthy }
  api:
    image: a
    ports: ["80"]
    healthcheck: { test: ["CMD", "true"] }
    depends_on: [cache]
  cache:
    image: c
    ports: ["6379"]
`;
  it('orders jobs after their dependencies and gives the dependent upstreams on them', () => {
    const r = tr(src);
    expect(r.jobs.map((j) => j.name)).toEqual(['demo-cache', 'demo-api', 'demo-web']);
    const web = r.jobs[2];
    expect(web.dependsOn).toEqual([{ service: 'api', job: 'demo-api', condition: 'service_healthy' }]);
    expect(web.spec.tasks[0].upstreams).toEqual([{ service: 'demo-api', env: 'BATON_UPSTREAM_API' }]);
    expect(r.jobs[1].spec.tasks[0].upstreams).toEqual([{ service: 'demo-cache', env: 'BATON_UPSTREAM_CACHE' }]);
    expect(r.jobs[1].dependsOn[0].condition).toBe('service_started');
    expect(r.warnings).toEqual([]);
  });

  it('warns when a dependency publishes no ports (no address) or has no healthcheck (waits for running)', () => {
    const r = tr('services:\n  a:\n    image: x\n    depends_on:\n      b: { condition: service_healthy }\n  b:\n    image: y\n');
    expect(r.warnings.map((w) => w.message)).toEqual([
      'b has no healthcheck: a waits for it to be running instead',
      'b publishes no ports, so a gets no address for it (only the start order); add ports to b',
    ]);
    expect(r.warnings[0].line).toBe(5);
    expect(r.jobs[1].dependsOn[0].condition).toBe('service_started');
    expect(r.jobs[1].spec.tasks[0].upstreams).toBeUndefined();
  });

  it('reports a cycle and a missing service as errors with lines', () => {
    const cyc = errors('services:\n  a: { image: x, depends_on: [b] }\n  b: { image: y, depends_on: [a] }\n');
    expect(cyc).toEqual([expect.objectContaining({ message: 'depends_on has a cycle: a → b → a', line: 2 })]);
    const missing = errors('services:\n  a:\n    image: x\n    depends_on: [nope]\n');
    expect(missing[0]).toMatchObject({ path: 'services.a.depends_on', line: 4 });
    expect(missing[0].message).toMatch(/depends on nope, which is not a service of this file/);
  });
});

describe('translateCompose: warnings name every key baton cannot honour, with its line', () => {
  it('lists unsupported service, deploy and top-level keys', () => {
    const src = `version: "3.9"
services:
  web:
    image: nginx
    build: .
    networks: [front]
    cap_add: [NET_ADMIN]
    profiles: [debug]
    container_name: web1
    deploy:
      labels: { a: b }
      update_config: { delay: 10s, order: start-first }
      placement: { constraints: ["node.role == manager"] }
    healthcheck: { test: ["CMD", "true"], start_interval: 1s }
    ports: ["127.0.0.1:8080:80", "53:53/udp", "9000-9001:9000-9001"]
networks:
  front: {}
x-extra: { anything: 1 }
`;
    expect(warnings(src)).toEqual([
      '5: services.web.build: build is not supported and is ignored: baton does not build images: build and push the image, then deploy',
      expect.stringMatching(/^6: services\.web\.networks: networks is not supported and is ignored: baton gives tasks no private network/),
      '7: services.web.cap_add: cap_add runs only on agents started with --allow cap-add; other agents never take this service',
      '8: services.web.profiles: profiles is not supported and is ignored: every service of the file is deployed',
      '9: services.web.container_name: container_name is not supported and is ignored: baton names the containers itself (one per replica)',
      '11: services.web.deploy.labels: labels is not supported and is ignored: jobs carry meta stack and service instead',
      expect.stringMatching(/^12: services\.web\.deploy\.update_config\.delay: delay is not supported/),
      expect.stringMatching(/^12: services\.web\.deploy\.update_config\.order: order is not supported/),
      '13: services.web.deploy.placement.constraints[0]: node.role is not supported: baton agents have no manager or worker role',
      expect.stringMatching(/^14: services\.web\.healthcheck\.start_interval: start_interval is not supported/),
      '15: services.web.ports[0]: the host address 127.0.0.1 is ignored: baton publishes on every address of the node',
      '15: services.web.ports[1]: udp ports are not supported (baton maps tcp ports): "53:53/udp" is left out',
      '15: services.web.ports[2]: port ranges are not supported: "9000-9001:9000-9001" is left out; list each port',
      expect.stringMatching(/^16: networks: networks is not supported/),
    ]);
  });

  it('warns about variables that are not set (once each) and about bind mounts agents must offer', () => {
    const w = warnings(svc('environment: { A: "${MISSING}", B: "${MISSING}" }\nvolumes: ["/srv/data:/data"]'));
    expect(w).toEqual([
      '4: services.s.environment.A: variable MISSING is not set: it becomes an empty text',
      '5: services.s.volumes[0]: bind mount /srv/data becomes host volume "srv-data": agents that should run s must offer it (baton agent --volume srv-data=/srv/data)',
    ]);
  });

  it('warns once per named volume, at its declaration', () => {
    const src = 'services:\n  a: { image: x, volumes: ["d:/d"] }\n  b: { image: y, volumes: ["d:/e"] }\nvolumes:\n  d:\n    driver: local\n';
    expect(warnings(src)).toEqual([
      '5: volumes.d: named volume d becomes host volume "d": agents must offer it (baton agent --volume d=/path/on/node); its data stays on that node',
      '6: volumes.d.driver: driver is not supported and is ignored: named volumes are host volumes the agents offer (baton agent --volume NAME=PATH)',
    ]);
  });

  it('warns that an entrypoint goes into the container command', () => {
    expect(warnings(svc('entrypoint: /bin/sh'))[0]).toMatch(/^4: services\.s\.entrypoint: baton runs the entrypoint as the container command/);
  });
});

describe('translateCompose: errors name every problem with its line', () => {
  const cases: Array<[string, string, Array<{ path: string; line?: number; message: RegExp }>]> = [
    ['not YAML', 'services:\n  a: [unclosed\n', [{ path: '(syntax)', line: 3, message: /./ }]],
    ['not a mapping', '- a\n- b\n', [{ path: '(top level)', message: /holds a list/ }]],
    ['services missing', 'version: "3"\n', [{ path: 'services', message: /services is required/ }]],
    ['services empty', 'services: {}\n', [{ path: 'services', line: 1, message: /services is empty/ }]],
    ['a service without image', 'services:\n  a:\n    command: ["x"]\n', [{ path: 'services.a', line: 2, message: /service a has no image/ }]],
    ['build without image', 'services:\n  a:\n    build: .\n', [{ path: 'services.a', line: 2, message: /baton does not build/ }]],
    [
      'a typo in a key',
      'services:\n  a:\n    image: x\n    enviroment: { A: 1 }\n',
      [{ path: 'services.a.enviroment', line: 4, message: /unknown key "enviroment" \(did you mean "environment"\?\)/ }],
    ],
    [
      'a typo in deploy',
      'services:\n  a:\n    image: x\n    deploy: { replica: 2 }\n',
      [{ path: 'services.a.deploy.replica', line: 4, message: /did you mean "replicas"/ }],
    ],
    [
      'wrong type: replicas',
      'services:\n  a:\n    image: x\n    deploy:\n      replicas: two\n',
      [{ path: 'services.a.deploy.replicas', line: 5, message: /whole number/ }],
    ],
    ['wrong type: ports', 'services:\n  a:\n    image: x\n    ports: "80"\n', [{ path: 'services.a.ports', line: 4, message: /ports must be a list/ }]],
    [
      'wrong type: environment',
      'services:\n  a:\n    image: x\n    environment: 3\n',
      [{ path: 'services.a.environment', line: 4, message: /list of KEY=value or a mapping/ }],
    ],
    ['bad port', 'services:\n  a:\n    image: x\n    ports: ["80:99999"]\n', [{ path: 'services.a.ports[0]', line: 4, message: /1\.\.65535/ }]],
    [
      'bad duration',
      'services:\n  a:\n    image: x\n    healthcheck:\n      test: ["CMD", "true"]\n      interval: soon\n',
      [{ path: 'services.a.healthcheck.interval', line: 6, message: /not a duration/ }],
    ],
    ['bad size', 'services:\n  a:\n    image: x\n    mem_limit: lots\n', [{ path: 'services.a.mem_limit', line: 4, message: /not a size/ }]],
    [
      'undeclared named volume',
      'services:\n  a:\n    image: x\n    volumes: ["data:/d"]\n',
      [{ path: 'services.a.volumes[0]', line: 4, message: /not declared under the top-level volumes/ }],
    ],
    [
      'required variable',
      'services:\n  a:\n    image: "x:${VERSION:?set VERSION}"\n',
      [{ path: 'services.a.image', line: 3, message: /required variable VERSION is not set: set VERSION/ }],
    ],
    [
      'missing env_file',
      'services:\n  a:\n    image: x\n    env_file: missing.env\n',
      [{ path: 'services.a.env_file', line: 4, message: /env_file \/app\/missing.env does not exist/ }],
    ],
    [
      'healthcheck without test',
      'services:\n  a:\n    image: x\n    healthcheck: { interval: 1s }\n',
      [{ path: 'services.a.healthcheck.test', line: 4, message: /needs test/ }],
    ],
    ['memory the job format refuses', 'services:\n  a:\n    image: x\n    mem_limit: 1m\n', [{ path: 'services.a', line: 2, message: /memory .* too small/ }]],
    [
      'replicas with global',
      'services:\n  a:\n    image: x\n    deploy: { mode: global, replicas: 2 }\n',
      [{ path: 'services.a.deploy.replicas', line: 4, message: /mode: global/ }],
    ],
    [
      'unknown top-level key',
      'services:\n  a: { image: x }\nservice: {}\n',
      [{ path: 'service', line: 3, message: /unknown key "service" \(did you mean "services"\?\)/ }],
    ],
  ];
  it.each(cases)('%s', (_name, src, expected) => {
    const got = errors(src);
    expect(got).toHaveLength(expected.length);
    expected.forEach((e, i) => {
      expect(got[i].path).toBe(e.path);
      if (e.line !== undefined) expect(got[i].line).toBe(e.line);
      expect(got[i].message).toMatch(e.message);
    });
  });

  it('collects every error of the file at once', () => {
    const got = errors('services:\n  a:\n    ports: 1\n  b:\n    image: y\n    deploy: { replicas: -1 }\n');
    expect(got.map((e) => e.path)).toEqual(['services.a', 'services.a.ports', 'services.b.deploy.replicas']);
  });

  it('an empty file is an error', () => {
    expect(() => tr('  \n')).toThrow(/compose.yml is empty/);
  });
});

describe('volumeNameForPath', () => {
  it('makes a host volume name from a path', () => {
    expect(volumeNameForPath('/srv/App Data/x')).toBe('srv-app-data-x');
    expect(volumeNameForPath('/')).toBe('root');
  });
});

describe('translateCompose: privileges become asks an agent must allow, never a silent pass', () => {
  it('maps privileged, network_mode: host, pid: host, cap_add, devices and user onto the task', () => {
    const src = svc('privileged: true\nnetwork_mode: host\npid: host\ncap_add: [net_admin, CAP_SYS_TIME]\ndevices: ["/dev/fuse"]\nuser: "1000:1000"');
    const t = spec(src).tasks[0];
    expect([t.privileged, t.networkMode, t.pidMode, t.capAdd, t.devices, t.user]).toEqual([
      true,
      'host',
      'host',
      ['NET_ADMIN', 'SYS_TIME'],
      ['/dev/fuse'],
      '1000:1000',
    ]);
    expect(warnings(src).join('\n')).toMatch(/privileged runs only on agents started with --allow privileged/);
    expect(warnings(src).join('\n')).toMatch(/network_mode runs only on agents started with --allow host-network/);
  });

  it('refuses network and pid modes it cannot give', () => {
    expect(
      errors(svc('network_mode: "service:db"'))
        .map((e) => e.message)
        .join('\n'),
    ).toMatch(/network_mode string "service:db" is not supported/);
    expect(
      errors(svc('pid: "container:x"'))
        .map((e) => e.message)
        .join('\n'),
    ).toMatch(/only pid: host/);
  });
});

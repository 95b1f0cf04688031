/**
 * Bad input of every kind gets a 4xx whose message names the field (and the
 * line, for files); the server never answers 500 and keeps serving.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../support/cluster.js';

const GOOD_TASK = `tasks:
  - name: main
    driver: exec
    command: /bin/true
`;

interface FileCase {
  name: string;
  source: string;
  /** a fragment the error must contain */
  expect: RegExp;
  line?: number;
}

const badFiles: FileCase[] = [
  { name: 'invalid YAML', source: 'name: x\ntype: batch\ntasks: [\n  - oops: : :\n', expect: /yaml|syntax|flow|map/i },
  { name: 'unknown field with a suggestion', source: `name: x\ntype: batch\ncuont: 2\n${GOOD_TASK}`, expect: /cuont.*count/s, line: 3 },
  { name: 'negative count', source: `name: x\ntype: batch\ncount: -1\n${GOOD_TASK}`, expect: /count/, line: 3 },
  {
    name: '"12 gigs" of memory',
    source: `name: x\ntype: batch\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n    resources:\n      memory: 12 gigs\n`,
    expect: /tasks\[0\]\.resources\.memory.*12 gigs/s,
    line: 8,
  },
  { name: 'unknown job type', source: `name: x\ntype: cron\n${GOOD_TASK}`, expect: /type.*batch.*service/s, line: 2 },
  { name: 'docker task without image', source: 'name: x\ntype: batch\ntasks:\n  - name: main\n    driver: docker\n', expect: /image/ },
  { name: 'no tasks', source: 'name: x\ntype: batch\ntasks: []\n', expect: /tasks/ },
  { name: 'bad job name', source: `name: "Hello World!"\ntype: batch\n${GOOD_TASK}`, expect: /name/, line: 1 },
  { name: 'empty file', source: '', expect: /empty/i },
  { name: 'a list instead of a job', source: '- a\n- b\n', expect: /object|mapping|map/i },
];

describe('bad input gets a clear 4xx', () => {
  let cluster: TestCluster;
  const post = (path: string, init: { body?: string; headers?: Record<string, string>; token?: string | null }) =>
    cluster.fetch(path, {
      method: 'POST',
      body: init.body,
      headers: {
        ...(init.token === null ? {} : { authorization: `Bearer ${init.token ?? cluster.adminToken}` }),
        ...init.headers,
      },
    });

  beforeAll(async () => {
    cluster = await TestCluster.start();
  });
  afterAll(async () => cluster?.stop());

  for (const c of badFiles) {
    it(`job file: ${c.name}`, async () => {
      const res = await post('/v1/jobs', { body: JSON.stringify({ source: c.source, filename: 'job.yaml' }), headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: string; details?: Array<{ path: string; message: string; line?: number }> };
      const text = [body.error, ...(body.details ?? []).map((d) => `${d.path}: ${d.message}`)].join('\n');
      expect(text).toMatch(c.expect);
      if (c.line !== undefined) expect(body.details?.some((d) => d.line === c.line)).toBe(true);
    });
  }

  const badRequests: Array<{
    name: string;
    path: string;
    body?: string;
    headers?: Record<string, string>;
    token?: string | null;
    status: number;
    expect: RegExp;
  }> = [
    { name: 'a body that is not JSON', path: '/v1/jobs', body: '{"spec": ', headers: { 'content-type': 'application/json' }, status: 400, expect: /JSON/ },
    {
      name: 'a huge body',
      path: '/v1/jobs',
      body: JSON.stringify({ source: 'x'.repeat(3 * 1024 * 1024) }),
      headers: { 'content-type': 'application/json' },
      status: 413,
      expect: /large|limit|MiB/i,
    },
    {
      name: 'an unsupported content type',
      path: '/v1/jobs',
      body: '<job/>',
      headers: { 'content-type': 'application/xml' },
      status: 415,
      expect: /content.type/i,
    },
    {
      name: 'a wrong field type in a JSON spec',
      path: '/v1/jobs',
      body: JSON.stringify({ spec: { name: 'x', type: 'batch', count: 'three', tasks: [{ name: 'm', driver: 'exec', command: '/bin/true' }] } }),
      headers: { 'content-type': 'application/json' },
      status: 400,
      expect: /count/,
    },
    { name: 'no token', path: '/v1/jobs', body: '{}', headers: { 'content-type': 'application/json' }, token: null, status: 401, expect: /token/i },
    { name: 'an unknown token', path: '/v1/jobs', body: '{}', headers: { 'content-type': 'application/json' }, token: 'nope', status: 401, expect: /token/i },
    {
      name: 'a register body missing fields',
      path: '/v1/agent/register',
      body: JSON.stringify({ name: 'n' }),
      headers: { 'content-type': 'application/json' },
      status: 400,
      expect: /capacity|drivers/,
    },
  ];

  for (const c of badRequests) {
    it(`request: ${c.name}`, async () => {
      const token = c.path === '/v1/agent/register' ? cluster.joinToken : c.token;
      const res = await post(c.path, { body: c.body, headers: c.headers, token });
      expect(res.status).toBe(c.status);
      const body = (await res.json()) as { error: string; details?: Array<{ path: string; message: string }> };
      expect([body.error, ...(body.details ?? []).map((d) => `${d.path}: ${d.message}`)].join('\n')).toMatch(c.expect);
    });
  }

  it('keeps serving after all of that: reads answer and a valid job is stored', async () => {
    const before = (await cluster.client.status()).index;
    const r = await cluster.client.submitJob(
      'name: after-garbage\ntype: batch\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n',
      'after.yaml',
    );
    expect(r.job.id).toBe('after-garbage');
    expect((await cluster.client.status()).index).toBeGreaterThan(before);
    expect((await cluster.client.getJob('after-garbage', 'default')).job.id).toBe('after-garbage');
  });
});

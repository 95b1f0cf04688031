import { describe, expect, it } from 'vitest';
import { metaEnvName, resolvePorts, resolveVolumes, taskEnv, upstreamEnvName } from './task-env.js';

const base = {
  specEnv: {},
  meta: {},
  allocId: 'a1',
  allocName: 'j[3]',
  allocIndex: 3,
  jobId: 'j',
  namespace: 'default',
  taskName: 'main',
  nodeId: 'n1',
  taskDir: '/data/allocs/a1/main',
  hasPayload: false,
};

describe('taskEnv', () => {
  it('upper-cases meta keys and replaces what env names cannot hold', () => {
    expect(metaEnvName('scenario')).toBe('BATON_META_SCENARIO');
    expect(metaEnvName('seed-value.v2')).toBe('BATON_META_SEED_VALUE_V2');
    expect(metaEnvName('ünits')).toBe('BATON_META__NITS');
  });

  it("gives baton's variables over the spec's and the payload path only with a payload", () => {
    const env = taskEnv({ ...base, specEnv: { A: '1', BATON_ALLOC_ID: 'mine' }, meta: { k: 'v' } });
    expect(env).toEqual({
      A: '1',
      BATON_META_K: 'v',
      BATON_ALLOC_ID: 'a1',
      BATON_ALLOC_NAME: 'j[3]',
      BATON_ALLOC_INDEX: '3',
      BATON_JOB_ID: 'j',
      BATON_NAMESPACE: 'default',
      BATON_TASK_NAME: 'main',
      BATON_TASK_DIR: '/data/allocs/a1/main',
      BATON_NODE_ID: 'n1',
    });
    expect(taskEnv({ ...base, hasPayload: true }).BATON_PAYLOAD_FILE).toBe('/data/allocs/a1/main/payload');
  });
});

describe('network env', () => {
  const ports = [
    { name: 'http', host: 23456, to: 8080 },
    { name: 'admin_api', host: 9000 },
  ];

  it('docker: BATON_PORT_ is the container port, BATON_ADDR_ the node address and host port', () => {
    const env = taskEnv({ ...base, address: '10.0.0.7', ports, containerPorts: true });
    expect(env.BATON_PORT_HTTP).toBe('8080');
    expect(env.BATON_ADDR_HTTP).toBe('10.0.0.7:23456');
    // no `to`: the container listens on the host port itself
    expect(env.BATON_PORT_ADMIN_API).toBe('9000');
    expect(env.BATON_ADDR_ADMIN_API).toBe('10.0.0.7:9000');
  });

  it('exec: BATON_PORT_ is the host port, where the process must listen', () => {
    const env = taskEnv({ ...base, address: '10.0.0.7', ports, containerPorts: false });
    expect(env.BATON_PORT_HTTP).toBe('23456');
    expect(env.BATON_ADDR_HTTP).toBe('10.0.0.7:23456');
  });

  it('volumes as BATON_VOLUME_ and upstreams under their env names; no address means loopback', () => {
    const env = taskEnv({
      ...base,
      ports: [{ name: 'http', host: 20001 }],
      volumes: [{ name: 'site-data', hostPath: '/srv/site', destination: '/www', readOnly: true }],
      upstreams: { BATON_UPSTREAM_WEB: '10.0.0.7:20001,10.0.0.8:20002', DB_ADDRS: '' },
    });
    expect(env.BATON_ADDR_HTTP).toBe('127.0.0.1:20001');
    expect(env.BATON_VOLUME_SITE_DATA).toBe('/srv/site');
    expect(env.BATON_UPSTREAM_WEB).toBe('10.0.0.7:20001,10.0.0.8:20002');
    expect(env.DB_ADDRS).toBe('');
  });

  it('names the upstream env after the service unless the spec names it', () => {
    expect(upstreamEnvName('web')).toBe('BATON_UPSTREAM_WEB');
    expect(upstreamEnvName('user-api')).toBe('BATON_UPSTREAM_USER_API');
    expect(upstreamEnvName('web', 'WEB_HOSTS')).toBe('WEB_HOSTS');
  });
});

describe('resolvePorts', () => {
  it("takes the alloc's assignment, else the static port, and keeps the container port", () => {
    const spec = [
      { name: 'http', to: 8080 },
      { name: 'metrics', static: 9100 },
    ];
    expect(resolvePorts(spec, { http: { host: 23456, to: 8080 } })).toEqual([
      { name: 'http', host: 23456, to: 8080 },
      { name: 'metrics', host: 9100 },
    ]);
    // an assignment that leaves out `to` still maps to the spec's container port
    expect(resolvePorts([{ name: 'http', to: 8080 }], { http: { host: 20000 } })).toEqual([{ name: 'http', host: 20000, to: 8080 }]);
    expect(resolvePorts(undefined, undefined)).toEqual([]);
  });

  it('refuses a dynamic port nobody assigned', () => {
    expect(() => resolvePorts([{ name: 'http' }], {})).toThrow(/port "http" has no host port assigned/);
  });
});

describe('resolveVolumes', () => {
  const declared = { site: { path: '/tmp/site', readOnly: false }, certs: { path: '/etc/certs', readOnly: true } };

  it('is read-only when the mount or the node says so', () => {
    expect(
      resolveVolumes(
        [
          { volume: 'site', destination: '/www', readOnly: true },
          { volume: 'certs', destination: '/certs', readOnly: false },
          { volume: 'site', destination: '/data', readOnly: false },
        ],
        declared,
      ),
    ).toEqual([
      { name: 'site', hostPath: '/tmp/site', destination: '/www', readOnly: true },
      { name: 'certs', hostPath: '/etc/certs', destination: '/certs', readOnly: true },
      { name: 'site', hostPath: '/tmp/site', destination: '/data', readOnly: false },
    ]);
  });

  it('names the missing volume and what the node has', () => {
    expect(() => resolveVolumes([{ volume: 'logs', destination: '/l', readOnly: false }], declared)).toThrow(
      'host volume "logs" is not declared on this node (start the agent with --volume logs=/path); this node has site, certs',
    );
    expect(() => resolveVolumes([{ volume: 'logs', destination: '/l', readOnly: false }], undefined)).toThrow(/this node has no volumes/);
  });
});

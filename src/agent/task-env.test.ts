import { describe, expect, it } from 'vitest';
import { metaEnvName, taskEnv } from './task-env.js';

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

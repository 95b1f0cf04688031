import { describe, expect, it } from 'vitest';
import { SpecError } from './errors.js';
import { parseJobSource } from './parse.js';

const job = (secrets: string, driver = 'exec'): string => `name: app
type: service
tasks:
  - name: web
    driver: ${driver}
    ${driver === 'exec' ? 'command: /bin/sh' : 'image: busybox:latest'}
    secrets:
${secrets}
`;

function errors(src: string): string[] {
  try {
    parseJobSource(src, 'job.yaml');
  } catch (err) {
    if (err instanceof SpecError) return err.details.map((d) => `${d.path}: ${d.message}`);
    throw err;
  }
  return [];
}

describe('task secrets in a job file', () => {
  it('parses names, env, file and change modes with their defaults', () => {
    const spec = parseJobSource(
      job('      - name: db\n        env: { DB_URL: url }\n      - name: api\n        change_mode: signal\n      - name: tls\n        change_mode: noop'),
      'job.yaml',
    ).spec;
    expect(spec.tasks[0].secrets).toEqual([
      { name: 'db', env: { DB_URL: 'url' }, changeMode: 'restart' },
      { name: 'api', changeMode: 'signal', changeSignal: 'SIGHUP' },
      { name: 'tls', changeMode: 'noop' },
    ]);
    const docker = parseJobSource(job('      - name: db\n        file: /run/secrets/db\n        key: value', 'docker'), 'job.yaml').spec;
    expect(docker.tasks[0].secrets).toEqual([{ name: 'db', file: '/run/secrets/db', key: 'value', changeMode: 'restart' }]);
  });

  it('names unknown fields and bad values with their paths', () => {
    expect(errors(job('      - name: db\n        mode: restart'))).toEqual([
      expect.stringMatching(/^tasks\[0\]\.secrets\[0\]\.mode: unknown field "mode".*allowed here: name, env, file, key, change_mode, change_signal/),
    ]);
    expect(errors(job('      - name: DB/x'))[0]).toMatch(/secrets\[0\]\.name: a secret name is lowercase letters/);
    expect(errors(job('      - name: db\n        change_mode: reload'))[0]).toMatch(/change_mode must be "restart", "signal" or "noop"/);
    expect(errors(job('      - name: db\n        env: { DB_URL: "../x" }'))[0]).toMatch(/a secret key is letters/);
  });

  it('refuses what makes no sense together', () => {
    expect(errors(job('      - name: db\n      - name: db'))).toEqual([expect.stringMatching(/secret "db" is named twice/)]);
    expect(errors(job('      - name: db\n        file: /run/secrets/db'))[0]).toMatch(/file is for docker tasks/);
    expect(errors(job('      - name: db\n        change_signal: SIGHUP'))[0]).toMatch(/change_signal is for change_mode: signal/);
    expect(errors(job('      - name: db\n        key: value', 'docker'))[0]).toMatch(/give file too/);
  });
});

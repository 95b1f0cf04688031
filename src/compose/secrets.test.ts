import { describe, expect, it } from 'vitest';
import { SpecError } from '../spec/errors.js';
import { translateCompose } from './translate.js';

const tr = (src: string) => translateCompose(src, { filename: 'compose.yaml', dir: '/work/app', stack: 'demo' });

function errors(src: string): string[] {
  try {
    tr(src);
  } catch (err) {
    if (err instanceof SpecError) return err.details.map((d) => `${d.path}: ${d.message}`);
    throw err;
  }
  throw new Error('expected a SpecError');
}

describe('compose secrets', () => {
  it('puts file secrets at deploy as <stack>-<name> and reads them at /run/secrets', () => {
    const r = tr(`services:
  web:
    image: busybox
    secrets: [db, { source: api, target: api-key }, { source: tls, target: /etc/tls/key.pem }]
secrets:
  db: { file: ./db.txt }
  api: { external: true }
  tls: { external: true, name: prod-tls }
  unused: { file: /etc/unused }
`);
    expect(r.secrets).toEqual([{ compose: 'db', name: 'demo-db', file: '/work/app/db.txt' }]);
    expect(r.jobs[0].spec.tasks[0].secrets).toEqual([
      { name: 'demo-db', file: '/run/secrets/db', key: 'value', changeMode: 'restart' },
      { name: 'api', file: '/run/secrets/api-key', changeMode: 'restart' },
      { name: 'prod-tls', file: '/etc/tls/key.pem', changeMode: 'restart' },
    ]);
    expect(r.warnings).toEqual([]);
  });

  it('names undeclared and unusable secrets', () => {
    expect(errors('services:\n  web:\n    image: busybox\n    secrets: [nope]\n')).toEqual([
      expect.stringMatching(/services\.web\.secrets\[0\]: secret nope is not declared under the top-level secrets/),
    ]);
    expect(errors('services:\n  web: { image: busybox }\nsecrets:\n  db: {}\n')).toEqual([
      expect.stringMatching(/secret db needs file: PATH .* or external: true/),
    ]);
    expect(errors('services:\n  web: { image: busybox }\nsecrets:\n  db: { external: true, name: "Bad Name" }\n')[0]).toMatch(/not a baton secret name/);
  });

  it('warns that environment and content secrets are not put', () => {
    const w = tr('services:\n  web: { image: busybox }\nsecrets:\n  db: { environment: DB_PW }\n').warnings.map((x) => x.message);
    expect(w).toEqual([expect.stringMatching(/environment is not supported.*baton secret put/)]);
  });
});

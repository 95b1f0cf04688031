/**
 * The README's first command, as a new user runs it: `baton dev --run
 * examples/hello.yaml --once` starts a server and a local agent, runs the
 * example job, prints each alloc's output and exits with the job's outcome.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cluster.js';

const ROOT = resolve(import.meta.dirname, '../..');

describe('the quick start', () => {
  let home = '';
  beforeAll(async () => {
    // dev writes where the CLI finds it (~/.config/baton/current.json): a home of its own
    home = await mkdtemp(join(tmpdir(), 'baton-quick-start-'));
  });
  afterAll(() => rm(home, { recursive: true, force: true }));

  it('runs the example job to completion and prints every alloc output', { timeout: 120_000 }, async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('npm install && npx baton dev --run examples/hello.yaml --once');
    // a free port: another dev server or a test may hold the default one
    const r = await runCli(['dev', '--run', 'examples/hello.yaml', '--once', '--bind', '127.0.0.1:0'], { HOME: home }, ROOT);
    expect(r.code, r.stderr).toBe(0);
    for (const i of [0, 1, 2]) {
      expect(r.stdout).toMatch(
        new RegExp(`==> hello\\[${i}\\] \\(alloc [0-9a-f]{8}\\) task greet stdout <==\\nhello from alloc ${i} of job hello on node [0-9a-f-]{36}\\ndone\\n`),
      );
    }
    expect(r.stdout).toMatch(/job hello: complete\n$/);
    expect(JSON.parse(await readFile(join(home, '.config/baton/current.json'), 'utf8'))).toMatchObject({
      url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
    });
  });

  it('exits non-zero when the job fails, with its output', { timeout: 120_000 }, async () => {
    const file = join(home, 'fails.yaml');
    await writeFile(
      file,
      'name: fails\ntype: batch\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/sh\n    args: ["-c", "echo trying; exit 3"]\n',
    );
    const r = await runCli(['dev', '--run', file, '--once', '--bind', '127.0.0.1:0'], { HOME: home }, ROOT);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/==> fails\[0\] \(alloc [0-9a-f]{8}\) task main stdout <==\ntrying\n/);
    expect(r.stdout).toMatch(/job fails: failed/);
  });
});

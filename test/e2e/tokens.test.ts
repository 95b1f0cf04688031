/**
 * `baton token` against a real server: a scoped token made with the CLI
 * works in its namespace only, lists without its secret, and stops working
 * once revoked; the last admin token stays.
 */
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreateTokenResponse, TokenInfo } from '../../src/api/types.js';
import { runCli, TestCluster } from '../support/cluster.js';

const JOB = (ns: string) => `name: tok-${ns}\nnamespace: ${ns}\ntype: batch\ntasks:\n  - name: main\n    driver: exec\n    command: /bin/true\n`;

describe('baton token', () => {
  let cluster: TestCluster;
  let dir: string;
  beforeAll(async () => {
    cluster = await TestCluster.start();
    dir = await cluster.tempDir('tokens');
  }, 60_000);
  afterAll(() => cluster?.stop());

  it('creates a scoped token, uses it in its namespace only, lists it without its secret, and revokes it', async () => {
    const env = cluster.cliEnv();
    const made = await runCli(['token', 'create', '--role', 'submit', '--namespace', 'team-a', '--ttl', '30d', '-o', 'json'], env, dir);
    expect(made.code, made.stderr).toBe(0);
    const { token, secret } = JSON.parse(made.stdout) as CreateTokenResponse;
    expect(token).toMatchObject({ role: 'submit', namespace: 'team-a', name: 'submit-team-a' });

    await writeFile(`${dir}/a.yaml`, JOB('team-a'));
    await writeFile(`${dir}/b.yaml`, JOB('default'));
    const asTeam = { ...env, BATON_TOKEN: secret };
    const ok = await runCli(['run', 'a.yaml'], asTeam, dir);
    expect(ok.code, ok.stderr + ok.stdout).toBe(0);
    const denied = await runCli(['run', 'b.yaml'], asTeam, dir);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/may only use namespace "team-a"/);
    // a submit token cannot list tokens
    expect((await runCli(['token', 'ls'], asTeam, dir)).stderr).toMatch(/needs admin/);

    const table = await runCli(['token', 'ls'], env, dir);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/submit-team-a\s+submit\s+team-a/);
    expect(table.stdout).not.toContain(secret);
    const listed = JSON.parse((await runCli(['token', 'ls', '-o', 'json'], env, dir)).stdout) as TokenInfo[];
    expect(listed.map((t) => t.name).sort()).toEqual(['admin', 'submit-team-a']);

    const revoked = await runCli(['token', 'revoke', 'submit-team-a'], env, dir);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toMatch(/revoked token/);
    const after = await runCli(['job', 'ls', '--namespace', 'team-a'], asTeam, dir);
    expect(after.code).not.toBe(0);
    expect(after.stderr).toMatch(/unknown token/);
  }, 90_000);

  it('refuses to revoke the last admin token', async () => {
    const r = await runCli(['token', 'revoke', 'admin'], cluster.cliEnv(), dir);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/last admin token/);
  }, 30_000);
});

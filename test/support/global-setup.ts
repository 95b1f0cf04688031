/**
 * Once per test run: the private PostgreSQL the store and multi-server
 * suites use (test/support/postgres.ts). Its admin URL reaches the test files
 * through vitest's provide/inject.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { findPostgres, postgresRequired, startPostgres, type PrivatePostgres } from './postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** the private PostgreSQL's admin URL; empty when the suites run without one */
    postgresAdminUrl: string;
    /** why there is no PostgreSQL, when there is none */
    postgresMissing: string;
  }
}

let server: PrivatePostgres | undefined;

export async function setup(project: TestProject): Promise<void> {
  // the e2e suites run dist/: after a bare `tsc -p tsconfig.build.json` it lacks the files tsc does
  // not copy (the exec driver's perl launcher), and agents would quietly fall back to Node's spawn
  const root = resolve(import.meta.dirname, '../..');
  if (existsSync(resolve(root, 'dist'))) execFileSync(process.execPath, [resolve(root, 'scripts/copy-build-files.mjs')], { stdio: 'inherit' });
  const found = findPostgres();
  let missing = 'missing' in found ? found.missing : '';
  if (!missing) {
    try {
      server = await startPostgres();
    } catch (err) {
      missing = (err as Error).message;
    }
  }
  if (missing && postgresRequired) throw new Error(`BATON_REQUIRE_POSTGRES=1 but PostgreSQL cannot be started: ${missing}`);
  project.provide('postgresAdminUrl', server?.adminUrl ?? '');
  project.provide('postgresMissing', missing);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}

/**
 * Once per test run: the private PostgreSQL the store and multi-server
 * suites use (test/support/postgres.ts). Its admin URL reaches the test files
 * through vitest's provide/inject.
 */
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

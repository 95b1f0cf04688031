/**
 * `import { BatonClient } from 'baton/client'`: the typed client of baton's
 * API for programs, the one the CLI and the web UI use. It loads nothing but
 * Node's own http/https modules: a script that submits a sweep and follows
 * its runs starts as fast as Node does.
 *
 *   const client = await connect();                 // BATON_ADDR, BATON_TOKEN, BATON_CA_FILE, or this machine's server
 *   await client.submitSpec(spec);                  // a job, as the YAML file would say it
 *   const sweep = await client.dispatch('simulate', [{ meta: { seed: '1' } }]);
 *   for await (const e of client.followEvents({ topics: ['job'] })) { ... }
 *
 * See examples/simulation-master.mjs for a whole program.
 */
export { BatonClient, SseParser, allPages } from './client.js';
export type { AllocFilter, EventsFilter, JobListFilter, PageOptions, ReadLogsOptions, RunListFilter } from './client.js';
export { BatonApiError, type HttpOptions } from './http.js';
export { connect, type ConnectOptions } from './connect.js';
export { createApi, callRoute, type Api, type CallArgs } from './api.js';
export { routes, pathOf, type RouteDef, type RouteName, type ResponseOf, type BodyOf, type ParamsOf } from '../api/routes.js';
export type * from '../api/types.js';

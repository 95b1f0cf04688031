/** Deployments (rolling updates of services) and job version history (docs/api.md). */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { requireUser } from '../auth.js';
import { HttpError, parseInput as parse } from '../errors.js';
import type { ServerContext } from '../context.js';
import { revertSchema } from '../schemas.js';
import { routes } from '../../api/routes.js';
import { on } from '../route.js';

const nsQuery = z.object({ namespace: z.string().max(64).optional() }).passthrough();
const listQuery = z.object({ namespace: z.string().max(64).optional(), job: z.string().max(256).optional() });

export function deploymentRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const { store } = ctx;

  on(app, routes.listDeployments, async (req) => {
    const q = parse(listQuery, req.query, 'query');
    const ns = q.namespace ?? '*';
    const token = requireUser(req.principal, 'read', ns === '*' ? undefined : ns);
    const list = await store.listDeployments({ namespace: ns, jobId: q.job });
    return list.filter((d) => token.namespace === '*' || d.namespace === token.namespace);
  });

  on(app, routes.getDeployment, async (req) => {
    const d = await store.getDeployment(req.params.id);
    requireUser(req.principal, 'read', d.namespace);
    return d;
  });

  on(app, routes.promoteDeployment, async (req) => {
    const d = await store.getDeployment(req.params.id);
    requireUser(req.principal, 'submit', d.namespace);
    return store.promoteDeployment(d.id, Date.now());
  });

  on(app, routes.failDeployment, async (req) => {
    const d = await store.getDeployment(req.params.id);
    requireUser(req.principal, 'submit', d.namespace);
    return store.failDeployment(d.id, Date.now());
  });

  on(app, routes.jobVersions, async (req) => {
    const ns = parse(nsQuery, req.query, 'query').namespace ?? 'default';
    requireUser(req.principal, 'read', ns);
    const job = await store.getJob(ns, req.params.id);
    if (!job) throw new HttpError(404, `job "${req.params.id}" not found in namespace "${ns}"`);
    return { job: job.id, namespace: job.namespace, current: job.version, versions: await store.jobVersions(ns, job.id) };
  });

  on(app, routes.revertJob, async (req) => {
    const ns = parse(nsQuery, req.query, 'query').namespace ?? 'default';
    requireUser(req.principal, 'submit', ns);
    const body = parse(revertSchema, req.body ?? {}, 'revert request');
    const job = await store.getJob(ns, req.params.id);
    if (!job) throw new HttpError(404, `job "${req.params.id}" not found in namespace "${ns}"`);
    if (body.version === job.version) throw new HttpError(409, `job "${job.id}" is at version ${job.version} already`);
    return store.revertJob(ns, job.id, body.version, Date.now());
  });
}

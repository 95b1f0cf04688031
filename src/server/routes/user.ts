/** The user API: jobs, nodes, allocs, evals, logs (docs/api.md). */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { randomUUID } from 'node:crypto';
import type { JobSummary, NodeInfo, Page, Resources, RunsResponse } from '../../api/types.js';
import { parseJobObject, parseJobSource } from '../../spec/parse.js';
import { formatBytes, formatCpu, formatDuration } from '../../spec/units.js';
import { sumTaskResources } from '../../scheduler/resources.js';
import { requireUser } from '../auth.js';
import { assertYamlDepth } from '../body-limits.js';
import { badRequest, HttpError, parseInput as parse } from '../errors.js';
import { dispatchRefusal, validateRuns } from '../../jobs/dispatch.js';
import { isRunId } from '../../store/runs.js';
import { allocDetail } from '../../jobs/replacements.js';
import { clampLimit, SweepIdTakenError } from '../../store/store.js';
import { dispatchSchema, drainSchema, eligibilitySchema, gcSchema, pageQuery, scaleSchema, submitJobSchema, waitParam } from '../schemas.js';
import { gcLoopFor } from '../gc-loop.js';
import { parseDuration } from '../../spec/units.js';
import type { ServerContext } from '../context.js';
import { defaultStopAfterMs, mayRunTwice } from '../../jobs/disconnect.js';
import { routes } from '../../api/routes.js';
import { on } from '../route.js';

const nsQuery = z.object({ namespace: z.string().max(64).optional() }).passthrough();

const JOB_STATUSES = ['pending', 'running', 'complete', 'failed', 'stopped'] as const;
const JOB_KINDS = ['batch', 'service', 'system', 'parameterized', 'periodic'] as const;
const RUN_OUTCOMES = ['queued', 'running', 'complete', 'failed', 'oom-killed', 'timed-out', 'lost', 'stopped', 'preempted'] as const;
/** what a job page shows of a job's allocs: the newest, never its whole history */
const DETAIL_ALLOCS = 200;

function page<T>(items: T[], next: string | undefined): Page<T> {
  return next ? { items, next } : { items };
}

export function userRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const { store } = ctx;

  on(app, routes.status, async (req) => {
    requireUser(req.principal, 'read');
    const l = ctx.leadership;
    const lease = l?.lease;
    // a lease that lapsed names nobody: a failover is under way
    const leaderId = lease && lease.expiresAt > Date.now() - 1_000 ? lease.holder : undefined;
    const iso = (ms: number): string => new Date(ms).toISOString();
    const servers = l ? await l.servers() : [];
    return {
      version: ctx.version,
      index: store.currentIndex(),
      leader: l ? l.leading : true,
      store: store.kind,
      serverId: ctx.serverId ?? '',
      ...(leaderId && lease ? { leaderId, leaderSince: iso(lease.since), leaderEpoch: lease.epoch } : {}),
      servers: servers.map((x) => ({
        id: x.id,
        url: x.url,
        version: x.version,
        startedAt: iso(x.startedAt),
        seenAt: iso(x.seenAt),
        leader: x.id === leaderId,
      })),
    };
  });

  on(app, routes.submitJob, async (req) => {
    let parsed;
    if (typeof req.body === 'string') {
      parsed = parseJobText(req.body, 'job file');
    } else {
      const body = parse(submitJobSchema, req.body ?? {}, 'request body');
      if (body.source !== undefined) {
        assertYamlDepth(body.source, body.filename ?? 'the job file');
        parsed = parseJobText(body.source, body.filename ?? 'job file');
      } else if (body.spec !== undefined) parsed = parseJobObject(body.spec);
      else throw badRequest('send the job as "source" (the text of a YAML or JSON file) or as "spec" (an object)');
    }
    requireUser(req.principal, 'submit', parsed.spec.namespace);
    const warnings = [...parsed.warnings, ...fitWarnings(sumTaskResources(parsed.spec), await store.listNodes())];
    const bound = { ttlMs: ctx.heartbeatTtlMs, stopAfterMs: defaultStopAfterMs(ctx.heartbeatTtlMs) };
    if (mayRunTwice(parsed.spec.disconnect, bound) && !warnings.some((w) => w.startsWith('disconnect.'))) {
      warnings.push(
        `disconnect.stop_after outlasts the node TTL (${formatDuration(ctx.heartbeatTtlMs)}) plus replace_after: when a node is cut off, its copy may still run while the replacement runs`,
      );
    }
    const { job, evalId } = await store.registerJob(parsed.spec, Date.now());
    return { job, evalId, warnings };
  });

  const listQuery = z.object({
    namespace: z.string().max(64).optional(),
    parent: z.string().max(256).optional(),
    status: z.enum(JOB_STATUSES, { error: `status must be one of ${JOB_STATUSES.join(', ')}` }).optional(),
    type: z.enum(JOB_KINDS, { error: `type must be one of ${JOB_KINDS.join(', ')}` }).optional(),
    ...pageQuery,
  });
  on(app, routes.listJobs, async (req) => {
    const q = parse(listQuery, req.query, 'query');
    let ns = q.namespace ?? 'default';
    const token = requireUser(req.principal, 'read', ns === '*' ? undefined : ns);
    // a token of one namespace lists that namespace when it asks for all
    if (ns === '*' && token.namespace !== '*') ns = token.namespace;
    if (q.parent !== undefined && ns === '*') throw badRequest('--parent lists the runs of one job: name its namespace (not "*")');
    if (q.parent !== undefined && q.type !== undefined) throw badRequest('the runs of a parent are all batch jobs: --type does not apply with --parent');
    const r = await store.listJobs(ns, { parent: q.parent, status: q.status, kind: q.type, cursor: q.cursor, limit: q.limit });
    const items: JobSummary[] = [];
    for (const j of r.jobs) items.push(await store.jobSummary(j));
    return page(items, r.next);
  });

  on(app, routes.gc, async (req) => {
    requireUser(req.principal, 'operator');
    const body = parse(gcSchema, req.body ?? {}, 'gc request');
    let olderThan: number | undefined;
    if (body.olderThan !== undefined) {
      try {
        olderThan = parseDuration(body.olderThan);
      } catch (err) {
        throw badRequest(`olderThan: ${(err as Error).message}`, [{ path: 'olderThan', message: (err as Error).message }]);
      }
    }
    const loop = gcLoopFor(store);
    if (!loop) throw new HttpError(503, 'garbage collection is not running on this server');
    return loop.collect(olderThan);
  });

  on(app, routes.namespaces, async (req) => {
    const token = requireUser(req.principal, 'read');
    const all = await store.namespaces();
    return token.namespace === '*' ? all : all.filter((n) => n === token.namespace);
  });

  on(app, routes.queue, async (req) => {
    const q = parse(nsQuery, req.query, 'query');
    let ns = q.namespace ?? '*';
    const token = requireUser(req.principal, 'read', ns === '*' ? undefined : ns);
    if (ns === '*' && token.namespace !== '*') ns = token.namespace;
    return store.queueSummary(ns);
  });

  on(app, routes.getJob, async (req) => {
    const ns = parse(nsQuery, req.query, 'query').namespace ?? 'default';
    requireUser(req.principal, 'read', ns);
    const job = await store.getJob(ns, req.params.id);
    if (!job) throw new HttpError(404, `job "${req.params.id}" not found in namespace "${ns}"`);
    const [summary, allocs, evals] = await Promise.all([
      store.jobSummary(job),
      store.listAllocs({ namespace: ns, jobId: job.id }),
      store.listEvals({ namespace: ns, jobId: job.id, limit: 20 }),
    ]);
    // a batch job of 10,000 keeps every attempt: the page gets the newest, `alloc ls --job` pages through all
    const newest = allocs.length > DETAIL_ALLOCS ? allocs.slice(allocs.length - DETAIL_ALLOCS) : allocs;
    return { job, summary, allocs: newest, allocsTotal: allocs.length, evals };
  });

  on(app, routes.dispatch, { bodyLimit: 16 * 1024 * 1024 }, async (req) => {
    const ns = parse(nsQuery, req.query, 'query').namespace ?? 'default';
    requireUser(req.principal, 'submit', ns);
    const body = parse(dispatchSchema, req.body, 'dispatch request');
    const parent = await store.getJob(ns, req.params.id);
    if (!parent) throw new HttpError(404, `job "${req.params.id}" not found in namespace "${ns}"`);
    if (parent.stopped) throw new HttpError(409, `job "${parent.id}" is stopped: submit it again before dispatching`);
    const problems = validateRuns(parent, body.runs);
    if (problems.length > 0) {
      throw badRequest(`${dispatchRefusal(problems.length)}: ${problems[0].path}: ${problems[0].message}`, problems.slice(0, 100));
    }
    let sweepId = body.sweepId ?? randomUUID();
    let r;
    for (let attempt = 0; ; attempt++) {
      try {
        r = await store.dispatchJobs(parent, body.runs, sweepId, Date.now(), body.offset !== undefined ? { offset: body.offset } : {});
        break;
      } catch (err) {
        // one in a few billion per pair of sweeps: draw again
        // (a sweep id the client chose is the client's to change: it is told so)
        if (!(err instanceof SweepIdTakenError) || body.sweepId !== undefined || attempt >= 5) throw err;
        sweepId = randomUUID();
      }
    }
    return { sweepId, jobs: r.ids, total: r.total, ...(r.repeated ? { repeated: true } : {}) };
  });

  const runsQuery = z.object({
    namespace: z.string().max(64).optional(),
    outcome: z.enum(RUN_OUTCOMES, { error: `outcome must be one of ${RUN_OUTCOMES.join(', ')}` }).optional(),
    sweep: z.uuid({ error: 'sweep must be a sweep id (the sweepId a dispatch answered)' }).optional(),
    ...pageQuery,
  });
  on(app, routes.listRuns, async (req) => {
    const q = parse(runsQuery, req.query, 'query');
    const ns = q.namespace ?? 'default';
    requireUser(req.principal, 'read', ns);
    const job = await store.getJob(ns, req.params.id);
    if (!job) throw new HttpError(404, `job "${req.params.id}" not found in namespace "${ns}"`);
    const r = await store.listRuns(job, { outcome: q.outcome, sweepId: q.sweep, cursor: q.cursor, limit: clampLimit(q.limit, 1000) });
    const out: RunsResponse = { job: await store.jobSummary(job), runs: r.runs, ...(r.next ? { next: r.next } : {}) };
    if (q.sweep) {
      const sweep = await store.runStats(job, q.sweep);
      if (!sweep) throw new HttpError(404, `job "${job.id}" has no sweep ${q.sweep}`);
      out.sweep = sweep;
    }
    return out;
  });

  on(app, routes.startJob, async (req) => {
    const ns = parse(nsQuery, req.query, 'query').namespace ?? 'default';
    requireUser(req.principal, 'submit', ns);
    const job = await store.getJob(ns, req.params.id);
    if (!job) throw new HttpError(404, `job "${req.params.id}" not found in namespace "${ns}"`);
    if (!job.stopped) throw new HttpError(409, `job "${job.id}" is not stopped`);
    if (isRunId(job.id)) return store.restartRun(ns, job.id, Date.now());
    const r = await store.registerJob(job.spec, Date.now());
    return { job: r.job, evalId: r.evalId };
  });

  on(app, routes.scaleJob, async (req) => {
    const ns = parse(nsQuery, req.query, 'query').namespace ?? 'default';
    requireUser(req.principal, 'submit', ns);
    const body = parse(scaleSchema, req.body, 'scale request');
    return store.scaleJob(ns, req.params.id, body.count, Date.now());
  });

  on(app, routes.stopJob, async (req) => {
    const ns = parse(nsQuery, req.query, 'query').namespace ?? 'default';
    requireUser(req.principal, 'submit', ns);
    // a sweep's queued runs go on being marked stopped after the answer (none is placed from now on)
    const { evalId } = await store.stopJob(ns, req.params.id, Date.now());
    return { evalId };
  });

  const nodesQuery = z.object({ ...pageQuery });
  on(app, routes.listNodes, async (req) => {
    requireUser(req.principal, 'read');
    const q = parse(nodesQuery, req.query, 'query');
    const r = await store.nodePage(q);
    return page(r.nodes, r.next);
  });

  on(app, routes.setEligibility, async (req) => {
    requireUser(req.principal, 'operator');
    const body = parse(eligibilitySchema, req.body, 'eligibility request');
    const node = await store.getNode(req.params.id);
    return store.setEligibility(node.id, body.eligible, Date.now());
  });

  on(app, routes.drainNode, async (req) => {
    requireUser(req.principal, 'operator');
    const body = parse(drainSchema, req.body ?? {}, 'drain request');
    const node = await store.getNode(req.params.id);
    return store.drainNode(node.id, body.deadline, body.cancel ?? false, Date.now());
  });

  on(app, routes.getNode, async (req) => {
    const token = requireUser(req.principal, 'read');
    const node = await store.getNode(req.params.id);
    const allocs = await store.nodeAllocs(node.id);
    // nodes are cluster-wide, what runs on them is not: a namespaced token sees its own allocs only
    return { node, allocs: token.namespace === '*' ? allocs : allocs.filter((a) => a.namespace === token.namespace) };
  });

  const allocQuery = z.object({
    namespace: z.string().max(64).optional(),
    job: z.string().max(256).optional(),
    node: z.string().max(64).optional(),
    status: z
      .enum(['pending', 'running', 'complete', 'failed', 'lost'], { error: 'status must be one of pending, running, complete, failed, lost' })
      .optional(),
    order: z.enum(['asc', 'desc'], { error: 'order must be asc (oldest first) or desc (newest first)' }).optional(),
    ...pageQuery,
  });

  on(app, routes.listAllocs, async (req) => {
    const q = parse(allocQuery, req.query, 'query');
    let ns = q.namespace ?? '*';
    const token = requireUser(req.principal, 'read', ns === '*' ? undefined : ns);
    if (ns === '*' && token.namespace !== '*') ns = token.namespace;
    const r = await store.allocPage({
      namespace: ns,
      jobId: q.job,
      nodeId: q.node,
      status: q.status,
      cursor: q.cursor,
      limit: q.limit,
      newestFirst: q.order === 'desc',
    });
    return page(r.allocs, r.next);
  });

  on(app, routes.getAlloc, async (req) => {
    const alloc = await store.getAlloc(req.params.id);
    requireUser(req.principal, 'read', alloc.namespace);
    // what replaced it and what it replaced are of the same job, so of the same namespace
    return allocDetail(store, alloc);
  });

  const logsQuery = z.object({
    task: z.string().max(64).optional(),
    stream: z.enum(['stdout', 'stderr']).optional(),
    offset: z.coerce.number().int().min(0).optional(),
    wait: waitParam(60_000),
  });

  on(app, routes.readLogs, async (req) => {
    const q = parse(logsQuery, req.query, 'query');
    let alloc = await store.getAlloc(req.params.id);
    requireUser(req.principal, 'read', alloc.namespace);
    const spec = await store.jobVersionSpec(alloc.namespace, alloc.jobId, alloc.jobVersion);
    const tasks = spec?.tasks.map((t) => t.name) ?? Object.keys(alloc.taskStates);
    const task = q.task ?? (tasks.length === 1 ? tasks[0] : undefined);
    if (!task) throw badRequest(`alloc ${alloc.id} has several tasks: name one of ${tasks.join(', ')}`);
    if (!tasks.includes(task)) throw new HttpError(404, `alloc ${alloc.id} has no task "${task}"; its tasks: ${tasks.join(', ')}`);
    const stream = q.stream ?? 'stdout';
    const offset = q.offset ?? 0;
    const deadline = Date.now() + q.wait;
    for (;;) {
      const ended = ['complete', 'failed', 'lost'].includes(alloc.clientStatus) || alloc.taskStates[task]?.state === 'dead';
      const r = await store.readLogs(alloc.id, task, stream, offset);
      const end = await store.logEnd(alloc.id, task, stream);
      if (r.data.length > 0 || ended || Date.now() >= deadline) {
        return { data: r.data, nextOffset: r.nextOffset, complete: ended && r.nextOffset >= end };
      }
      await ctx.waitForLogs(alloc.id, deadline - Date.now());
      // closing: answer what there is, the follower asks the next server
      if (ctx.closing.aborted) return { data: '', nextOffset: offset, complete: false };
      alloc = await store.getAlloc(alloc.id);
    }
  });

  const evalQuery = z.object({
    namespace: z.string().max(64).optional(),
    job: z.string().max(256).optional(),
    status: z.string().max(16).optional(),
    ...pageQuery,
  });
  on(app, routes.listEvals, async (req) => {
    const q = parse(evalQuery, req.query, 'query');
    let ns = q.namespace ?? '*';
    const token = requireUser(req.principal, 'read', ns === '*' ? undefined : ns);
    if (ns === '*' && token.namespace !== '*') ns = token.namespace;
    const r = await store.evalPage({ namespace: ns, jobId: q.job, status: q.status, cursor: q.cursor, limit: q.limit });
    return page(r.evals, r.next);
  });

  on(app, routes.getEval, async (req) => {
    const ev = await store.getEval(req.params.id);
    requireUser(req.principal, 'read', ev.namespace);
    return ev;
  });
}

/**
 * A job file's text, parsed. The YAML library refuses an alias bomb ("billion
 * laughs": anchors that expand to millions of nodes) with a plain error of its
 * own, which is bad input like any other, not a server fault.
 */
function parseJobText(source: string, filename: string): ReturnType<typeof parseJobSource> {
  try {
    return parseJobSource(source, filename);
  } catch (err) {
    if (err instanceof ReferenceError && /alias/i.test(err.message)) {
      throw badRequest(`${filename} expands its YAML aliases (*name) too often: at most 100 are allowed`, [{ path: '(aliases)', message: err.message }]);
    }
    throw err;
  }
}

/** Tell the submitter now when no node could ever hold one alloc of the job. */
function fitWarnings(ask: Resources, nodes: NodeInfo[]): string[] {
  const live = nodes.filter((n) => n.status !== 'down');
  if (live.length === 0) return ['no nodes have registered yet: the job waits until an agent joins'];
  const out: string[] = [];
  const max = (k: 'cpu' | 'memory' | 'disk') => Math.max(...live.map((n) => n.capacity[k]));
  if (ask.memory > max('memory')) {
    out.push(
      `memory: each alloc asks ${formatBytes(ask.memory)} but the largest node has ${formatBytes(max('memory'))}: it cannot run until a bigger node joins`,
    );
  }
  if (ask.cpu > max('cpu')) {
    out.push(`cpu: each alloc asks ${formatCpu(ask.cpu)} but the largest node has ${formatCpu(max('cpu'))}: it cannot run until a bigger node joins`);
  }
  if (ask.disk > max('disk')) {
    out.push(`disk: each alloc asks ${formatBytes(ask.disk)} but the largest node has ${formatBytes(max('disk'))}`);
  }
  return out;
}

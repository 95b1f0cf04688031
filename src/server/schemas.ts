/** Schemas of the bodies and queries the server accepts; every input is untrusted. */
import { z } from 'zod';
import { parseDuration, UnitError } from '../spec/units.js';

const resources = z.strictObject({
  cpu: z.number().int().min(0),
  memory: z.number().int().min(0),
  disk: z.number().int().min(0),
});

const text = z.string().max(1024);
const textMap = z.record(z.string().max(256), text);

export const registerNodeSchema = z.strictObject({
  name: z.string().min(1).max(253),
  nodeClass: z.string().max(253),
  datacenter: z.string().max(253),
  drivers: z.record(z.string().max(64), z.strictObject({ healthy: z.boolean(), detail: text })),
  attributes: textMap,
  labels: textMap,
  capacity: resources,
  reserved: resources,
  address: z.string().max(253).optional(),
  volumes: z.record(z.string().max(64), z.strictObject({ path: z.string().max(4096), readOnly: z.boolean() })).optional(),
  portRange: z.strictObject({ from: z.number().int().min(1).max(65535), to: z.number().int().min(1).max(65535) }).optional(),
});

const taskEvent = z.object({ time: z.string(), type: z.string().max(64), message: z.string().max(4096) });
const taskState = z.object({
  state: z.enum(['pending', 'running', 'dead']),
  failed: z.boolean(),
  exitCode: z.number().int().optional(),
  signal: z.string().max(32).optional(),
  oomKilled: z.boolean().optional(),
  timedOut: z.boolean().optional(),
  peakMemory: z.number().min(0).optional(),
  memoryLimit: z.number().min(0).optional(),
  cpuNanos: z.number().min(0).optional(),
  health: z.enum(['starting', 'healthy', 'unhealthy']).optional(),
  checks: z.record(z.string().max(64), z.object({
    status: z.enum(['starting', 'passing', 'failing']),
    output: z.string().max(4096),
    consecutiveFailures: z.number().int().min(0),
    lastCheckAt: z.string().optional(),
  })).optional(),
  restarts: z.number().int().min(0),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  events: z.array(taskEvent).max(1000),
});

export const allocStatusSchema = z.strictObject({
  updates: z.array(z.strictObject({
    allocId: z.string().min(1).max(64),
    clientStatus: z.enum(['pending', 'running', 'complete', 'failed', 'lost']),
    clientDescription: z.string().max(4096),
    taskStates: z.record(z.string().max(64), taskState),
  })).max(1000),
});

export const shipLogsSchema = z.strictObject({
  chunks: z.array(z.strictObject({
    allocId: z.string().min(1).max(64),
    task: z.string().min(1).max(64),
    stream: z.enum(['stdout', 'stderr']),
    data: z.string(),
  })).max(10_000),
});

export const submitJobSchema = z.strictObject({
  spec: z.unknown().optional(),
  source: z.string().optional(),
  filename: z.string().max(255).optional(),
});

/** `wait=30s` / `wait=30000` → ms, capped */
export const waitParam = (max: number) =>
  z.union([z.string(), z.number()]).optional().transform((v, ctx) => {
    if (v === undefined || v === '') return 0;
    try {
      return Math.min(parseDuration(v), max);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof UnitError ? err.message : String(err) });
      return z.NEVER;
    }
  });

export const indexParam = z.coerce.number({ error: 'index must be a number' }).int().min(0).optional().default(0);

export const dispatchSchema = z.strictObject({
  runs: z.array(z.strictObject({
    meta: z.record(z.string().max(128), z.string().max(4096)),
    payload: z.string().optional(),
  }), { error: 'runs must be a list of { meta, payload? }' }),
  sweepId: z.uuid({ error: 'sweepId must be the sweepId the first part of the sweep answered' }).optional(),
  offset: z.number({ error: 'offset must be the row this part starts at' }).int().min(0).max(100_000_000).optional(),
}).refine((b) => (b.sweepId === undefined) === (b.offset === undefined), { error: 'send sweepId and offset together (a later part of a sweep), or neither (a new sweep)', path: ['offset'] });

/** ?limit= and ?cursor= of every listing */
export const pageQuery = {
  limit: z.coerce.number({ error: 'limit must be a number' }).int().min(1, 'limit must be at least 1').max(1000, 'limit is at most 1000 per page: follow "next" for more').optional(),
  cursor: z.string().max(2048).optional(),
};

export const gcSchema = z.strictObject({
  /** collect what finished before this long ago instead of the server's retention, e.g. "0s" */
  olderThan: z.string().max(32).optional(),
});

const usageNumbers = z.strictObject({ cpu: z.number().min(0), memory: z.number().min(0) });

/** POST /v1/agent/heartbeat: an empty body, or the node's and its tasks' usage (HeartbeatRequest) */
export const heartbeatSchema = z.strictObject({
  usage: z.strictObject({
    node: usageNumbers,
    // alloc id → task name → usage; bounded like other agent reports
    allocs: z.record(z.string().min(1).max(64), z.record(z.string().max(64), usageNumbers)),
  }).optional(),
});

/** GET /v1/events */
export const eventsQuerySchema = z.object({
  topic: z.string().max(256).optional()
    .transform((v, ctx) => {
      const names = (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      const known = ['job', 'alloc', 'node', 'eval', 'deployment'];
      const bad = names.filter((n) => !known.includes(n));
      if (bad.length > 0) {
        ctx.addIssue({ code: 'custom', message: `unknown topic ${bad.map((b) => `"${b}"`).join(', ')}: topics are ${known.join(', ')}` });
        return z.NEVER;
      }
      return names as Array<'job' | 'alloc' | 'node' | 'eval' | 'deployment'>;
    }),
  namespace: z.string().max(64).optional(),
  index: indexParam,
  /** follow=false: the buffered events as JSON, then the answer ends */
  follow: z.enum(['true', 'false', '1', '0']).optional(),
  // EventSource cannot set headers; auth reads it (see app.ts), the route ignores it
  token: z.string().optional(),
});

export const scaleSchema = z.strictObject({
  count: z.number({ error: 'count must be a number' }).int('count must be a whole number').min(0, 'count must be 0 or more').max(10_000, 'count must be 10000 or less'),
});

export const eligibilitySchema = z.strictObject({ eligible: z.boolean({ error: 'eligible must be true or false' }) });

export const drainSchema = z.strictObject({
  deadline: z
    .union([z.string(), z.number()])
    .optional()
    .describe('a duration such as "10m", or ms')
    .transform((v, ctx) => {
      if (v === undefined) return undefined;
      try {
        return parseDuration(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
  cancel: z.boolean().optional(),
});

export const revertSchema = z.strictObject({
  version: z.number({ error: 'version must be a number' }).int('version must be a whole number').min(1, 'version must be 1 or more'),
});

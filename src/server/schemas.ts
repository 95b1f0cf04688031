/** Schemas of the bodies and queries the server accepts; every input is untrusted. */
import { z } from 'zod';
import { parseDuration, UnitError } from '../spec/units.js';

// far above any machine (1,000,000 cores, 1 PiB): a node cannot claim capacity that would skew every placement
const resources = z.strictObject({
  cpu: z.number().int().min(0).max(1_000_000_000, 'cpu is at most 1,000,000 cores (in millicores)'),
  memory: z
    .number()
    .int()
    .min(0)
    .max(2 ** 50, 'memory is at most 1 PiB'),
  disk: z
    .number()
    .int()
    .min(0)
    .max(2 ** 60, 'disk is at most 1 EiB'),
});

/** C0 and C1 controls and DEL: they would reach terminals (node ls) and logs raw */
// eslint-disable-next-line no-control-regex
export const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;
const printable = (max: number, what: string) =>
  z
    .string()
    .max(max)
    .refine((v) => !CONTROL_CHARS.test(v), { error: `${what} must not contain control characters (newlines, escape sequences, NUL)` });
/** a key of env or meta: a name the exec driver can pass as it is */
// eslint-disable-next-line no-control-regex
export const ENV_KEY = /^[^\u0000-\u001f\u007f=]+$/;
const envKey = (max: number) =>
  z.string().max(max).regex(ENV_KEY, { error: 'a key must be non-empty, without "=", NUL, newlines or other control characters' });

const text = printable(1024, 'a value');
const textMap = z.record(
  printable(256, 'a key').refine((k) => k.length > 0, { error: 'a key must not be empty' }),
  text,
);

export const registerNodeSchema = z.strictObject({
  name: printable(253, 'the node name').refine((n) => n.trim().length > 0, { error: 'the node name must not be empty' }),
  nodeClass: printable(253, 'the node class'),
  datacenter: printable(253, 'the datacenter'),
  drivers: z.record(z.string().max(64), z.strictObject({ healthy: z.boolean(), detail: text })),
  attributes: textMap,
  labels: textMap,
  capacity: resources,
  reserved: resources,
  address: printable(253, 'the address').optional(),
  volumes: z.record(printable(64, 'a volume name'), z.strictObject({ path: printable(4096, 'a volume path'), readOnly: z.boolean() })).optional(),
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
  checks: z
    .record(
      z.string().max(64),
      z.object({
        status: z.enum(['starting', 'passing', 'failing']),
        output: z.string().max(4096),
        consecutiveFailures: z.number().int().min(0),
        lastCheckAt: z.string().optional(),
      }),
    )
    .optional(),
  restarts: z.number().int().min(0),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  events: z.array(taskEvent).max(1000),
});

export const allocStatusSchema = z.strictObject({
  updates: z
    .array(
      z.strictObject({
        allocId: z.string().min(1).max(64),
        clientStatus: z.enum(['pending', 'running', 'complete', 'failed', 'lost']),
        clientDescription: z.string().max(4096),
        taskStates: z.record(z.string().max(64), taskState),
      }),
    )
    .max(1000),
});

export const shipLogsSchema = z.strictObject({
  chunks: z
    .array(
      z.strictObject({
        allocId: z.string().min(1).max(64),
        task: z.string().min(1).max(64),
        stream: z.enum(['stdout', 'stderr']),
        data: z.string(),
      }),
    )
    .max(10_000),
});

export const submitJobSchema = z.strictObject({
  spec: z.unknown().optional(),
  source: z.string().optional(),
  filename: z.string().max(255).optional(),
});

/** `wait=30s` / `wait=30000` → ms, capped */
export const waitParam = (max: number) =>
  z
    .union([z.string(), z.number()])
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return 0;
      try {
        return Math.min(parseDuration(v), max);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: err instanceof UnitError ? err.message : String(err) });
        return z.NEVER;
      }
    });

export const indexParam = z.coerce.number({ error: 'index must be a number' }).int().min(0).optional().default(0);

export const dispatchSchema = z
  .strictObject({
    runs: z.array(
      z.strictObject({
        meta: z.record(
          envKey(128),
          z
            .string()
            .max(4096)
            .refine((v) => !v.includes('\0'), { error: 'a meta value must not contain NUL' }),
        ),
        payload: z.string().optional(),
      }),
      { error: 'runs must be a list of { meta, payload? }' },
    ),
    sweepId: z.uuid({ error: 'sweepId must be the sweepId the first part of the sweep answered' }).optional(),
    offset: z.number({ error: 'offset must be the row this part starts at' }).int().min(0).max(100_000_000).optional(),
  })
  .refine((b) => (b.sweepId === undefined) === (b.offset === undefined), {
    error: 'send sweepId and offset together (a later part of a sweep), or neither (a new sweep)',
    path: ['offset'],
  });

/** ?limit= and ?cursor= of every listing */
export const pageQuery = {
  limit: z.coerce
    .number({ error: 'limit must be a number' })
    .int()
    .min(1, 'limit must be at least 1')
    .max(1000, 'limit is at most 1000 per page: follow "next" for more')
    .optional(),
  cursor: z.string().max(2048).optional(),
};

export const gcSchema = z.strictObject({
  /** collect what finished before this long ago instead of the server's retention, e.g. "0s" */
  olderThan: z.string().max(32).optional(),
});

const usageNumbers = z.strictObject({ cpu: z.number().min(0), memory: z.number().min(0) });

/** POST /v1/agent/heartbeat: an empty body, or the node's and its tasks' usage (HeartbeatRequest) */
/** registration may carry a PKCS#10 request for the node's client certificate */
export const registerWithCsrSchema = registerNodeSchema.extend({
  csr: z
    .string()
    .max(16 * 1024)
    .optional(),
});

export const nodeCertSchema = z.strictObject({
  csr: z
    .string()
    .min(1)
    .max(16 * 1024),
});

export const heartbeatSchema = z.strictObject({
  usage: z
    .strictObject({
      node: usageNumbers,
      // alloc id → task name → usage; bounded like other agent reports
      allocs: z.record(z.string().min(1).max(64), z.record(z.string().max(64), usageNumbers)),
    })
    .optional(),
});

/** GET /v1/events */
export const eventsQuerySchema = z.object({
  topic: z
    .string()
    .max(256)
    .optional()
    .transform((v, ctx) => {
      const names = (v ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const known = ['job', 'alloc', 'node', 'eval', 'deployment', 'secret'];
      const bad = names.filter((n) => !known.includes(n));
      if (bad.length > 0) {
        ctx.addIssue({ code: 'custom', message: `unknown topic ${bad.map((b) => `"${b}"`).join(', ')}: topics are ${known.join(', ')}` });
        return z.NEVER;
      }
      return names as Array<'job' | 'alloc' | 'node' | 'eval' | 'deployment' | 'secret'>;
    }),
  namespace: z.string().max(64).optional(),
  index: indexParam,
  /** follow=false: the buffered events as JSON, then the answer ends */
  follow: z.enum(['true', 'false', '1', '0']).optional(),
  // EventSource cannot set headers: a ticket from POST /v1/events/ticket (app.ts reads it, the route ignores it)
  ticket: z.string().max(256).optional(),
});

export const scaleSchema = z.strictObject({
  count: z
    .number({ error: 'count must be a number' })
    .int('count must be a whole number')
    .min(0, 'count must be 0 or more')
    .max(10_000, 'count must be 10000 or less'),
});

export const eligibilitySchema = z.strictObject({ eligible: z.boolean({ error: 'eligible must be true or false' }) });

const MAX_DRAIN_MS = 365 * 24 * 3600 * 1000;

export const drainSchema = z.strictObject({
  deadline: z
    .union([z.string(), z.number()])
    .optional()
    .describe('a duration such as "10m", or ms')
    .transform((v, ctx) => {
      if (v === undefined) return undefined;
      try {
        const ms = parseDuration(v);
        // a deadline past any date the server can print (and far past any drain) is a typo
        if (ms > MAX_DRAIN_MS) throw new Error(`a drain deadline is at most 1 year (8760h), got ${String(v)}`);
        return ms;
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

export const TOKEN_ROLES = ['read', 'submit', 'operator', 'admin'] as const;

/** POST /v1/tokens */
export const createTokenSchema = z.strictObject({
  name: printable(64, 'the token name').refine((n) => n.trim().length > 0, { error: 'the token name must not be empty' }),
  role: z.enum(TOKEN_ROLES, { error: `role must be one of ${TOKEN_ROLES.join(', ')}` }),
  namespace: z
    .string()
    .max(64)
    .regex(/^(\*|[a-z0-9][a-z0-9_-]*)$/, { error: 'namespace must be "*" (all) or a name of lowercase letters, digits, "-" and "_"' }),
  /** how long it is valid, e.g. "30d"; none: until revoked */
  ttl: z.string().max(32).optional(),
});

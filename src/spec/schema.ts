/**
 * The job file format as users write it (snake_case, units as text), as zod
 * schemas that also convert to the internal JobSpec. Strict objects, so a
 * misspelt field is an error rather than silently ignored.
 */
import { z } from 'zod';
import { secretKeySchema, secretNameSchema } from '../secrets/secret-schemas.js';
import { DEFAULT_TASK_RESOURCES } from './defaults.js';
import { formatCpu, parseCpu, parseDuration, parseMemory, UnitError } from './units.js';

const NAME_RE = /^[a-z0-9]([a-z0-9._-]{0,62})$/;

function unit<T>(parse: (v: string | number) => T) {
  return z.union([z.string(), z.number()], { error: 'expected a number or a text with a unit' }).transform((v, ctx) => {
    try {
      return parse(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof UnitError ? err.message : String(err) });
      return z.NEVER;
    }
  });
}

const memory = unit(parseMemory);
const cpu = unit(parseCpu);
const duration = unit(parseDuration);

const name = (what: string) =>
  z
    .string({ error: `the ${what} name must be a text` })
    .regex(NAME_RE, `a ${what} name is 1 to 63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit`);

const wholeNumber = (what: string, min: number, max: number) =>
  z
    .number({ error: `${what} must be a whole number` })
    .int(`${what} must be a whole number`)
    .min(min, `${what} must be ${min} or more`)
    .max(max, `${what} must be ${max} or less`);

// env and meta reach execve as NAME=value: an empty name, "=", NUL or a control character would be mangled there
// eslint-disable-next-line no-control-regex
const mapKey = z.string().regex(/^[^\u0000-\u001f\u007f=]+$/, 'a name must be non-empty, without "=", NUL, newlines or other control characters');
const stringMap = z.record(
  mapKey,
  z
    .union([z.string(), z.number(), z.boolean()])
    .transform(String)
    .refine((v) => !v.includes('\0'), 'a value must not contain NUL'),
  {
    error: 'expected a mapping of names to values',
  },
);

export const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGKILL', 'SIGUSR1', 'SIGUSR2'] as const;

export const resourcesSchema = z
  .strictObject({
    /** a weight: what the task is sure to get when cores are contended, and more when they are idle */
    cpu: cpu.optional(),
    /** a hard cap; none unless given */
    cpu_limit: cpu.optional(),
    memory: memory.optional(),
    disk: memory.optional(),
  })
  .superRefine((r, ctx) => {
    if (r.cpu_limit === undefined) return;
    if (r.cpu_limit <= 0) {
      ctx.addIssue({ code: 'custom', path: ['cpu_limit'], message: 'cpu_limit must be more than 0 (leave it out for no cap)' });
      return;
    }
    const request = r.cpu ?? DEFAULT_TASK_RESOURCES.cpu;
    if (r.cpu_limit < request) {
      ctx.addIssue({
        code: 'custom',
        path: ['cpu_limit'],
        message: `cpu_limit (${formatCpu(r.cpu_limit)}) is below the cpu request (${formatCpu(request)}${r.cpu === undefined ? ', the default' : ''}): a task cannot be capped under what it is placed with`,
      });
    }
  });

export const checkSchema = z.strictObject({
  name: name('check').optional(),
  type: z.enum(['http', 'tcp', 'command'], { error: 'a check type is "http", "tcp" or "command"' }),
  port: z.number({ error: 'port must be a number' }).int().min(1, 'port must be 1..65535').max(65535, 'port must be 1..65535').optional(),
  path: z.string().startsWith('/', 'an http check path starts with /').optional(),
  expect_status: z.number().int().min(100).max(599).optional(),
  command: z.string().min(1).optional(),
  args: z.array(z.union([z.string(), z.number()]).transform(String)).optional(),
  interval: duration.optional(),
  timeout: duration.optional(),
  retries: z.number().int().min(1, 'retries must be 1 or more').max(100).optional(),
  start_period: duration.optional(),
  restart_on_unhealthy: z.boolean().optional(),
});

const portNumber = (what: string) =>
  z
    .number({ error: `${what} must be a port number` })
    .int()
    .min(1, `${what} must be 1..65535`)
    .max(65535, `${what} must be 1..65535`);

export const portSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, 'a port name is lowercase letters, digits and _ (e.g. http)'),
  static: portNumber('static').optional(),
  to: portNumber('to').optional(),
});

export const serviceSchema = z.strictObject({
  name: name('service'),
  port: z.string().min(1),
  tags: z.array(z.string().max(128)).optional(),
});

export const upstreamSchema = z.strictObject({
  service: name('service'),
  env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'env must be a variable name')
    .optional(),
});

export const volumeMountSchema = z.strictObject({
  volume: z.string().min(1).max(64),
  destination: z.string().min(1),
  read_only: z.boolean().optional(),
});

export const updateSchema = z.strictObject({
  max_parallel: z.number().int().min(1, 'max_parallel must be 1 or more').optional(),
  min_healthy_time: duration.optional(),
  healthy_deadline: duration.optional(),
  auto_revert: z.boolean().optional(),
  canary: z.number().int().min(0).optional(),
});

export const spreadSchema = z.strictObject({
  attribute: z.string().min(1),
  weight: z.number().int().min(1).max(100).optional(),
});

/** A task's use of a secret of its job's namespace (values are never in the job file). */
export const taskSecretSchema = z.strictObject({
  name: secretNameSchema,
  env: z
    .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an env var name is letters, digits and _, not starting with a digit'), secretKeySchema, {
      error: 'env must map env var names to keys of the secret, e.g. env: { DB_URL: url }',
    })
    .optional(),
  file: z
    .string()
    .regex(/^\/[^\0]*$/, 'file must be an absolute path inside the container, e.g. /run/secrets/db')
    .optional(),
  key: secretKeySchema.optional(),
  change_mode: z.enum(['restart', 'signal', 'noop'], { error: 'change_mode must be "restart", "signal" or "noop"' }).optional(),
  change_signal: z.enum(SIGNALS, { error: `change_signal must be one of ${SIGNALS.join(', ')}` }).optional(),
});

export const taskSchema = z.strictObject({
  name: name('task'),
  driver: z.enum(['docker', 'exec'], { error: 'driver must be "docker" or "exec"' }),
  image: z.string().min(1).optional(),
  command: z.string().min(1).optional(),
  args: z.array(z.union([z.string(), z.number()]).transform(String), { error: 'args must be a list of texts' }).optional(),
  env: stringMap.optional(),
  resources: resourcesSchema.optional(),
  kill_signal: z.enum(SIGNALS, { error: `kill_signal must be one of ${SIGNALS.join(', ')}` }).optional(),
  kill_timeout: duration.optional(),
  timeout: duration.optional(),
  user: z
    .union([z.string(), z.number().int().min(0)], { error: 'user must be a user name or a uid, e.g. user: nobody' })
    .transform(String)
    .pipe(
      z
        .string()
        .regex(
          /^([a-z_][a-z0-9_.-]*[$]?|\d+)(:([a-z_][a-z0-9_.-]*|\d+))?$/i,
          'user must be a name or uid, optionally :group, e.g. user: nobody or user: "1000:1000"',
        ),
    )
    .optional(),
  privileged: z.boolean({ error: 'privileged must be true or false' }).optional(),
  network_mode: z.enum(['bridge', 'host'], { error: 'network_mode must be "bridge" (the default) or "host"' }).optional(),
  pid_mode: z.enum(['host'], { error: 'pid_mode can only be "host" (leave it out for the container\'s own)' }).optional(),
  cap_add: z
    .array(z.string().regex(/^(CAP_)?[A-Z_]+$|^ALL$/, 'a capability is a name such as NET_ADMIN'), {
      error: 'cap_add must be a list of capability names, e.g. [NET_ADMIN]',
    })
    .optional(),
  devices: z
    .array(z.string().regex(/^\/[^:\0]*(:\/[^:\0]*)?(:[rwm]+)?$/, 'a device is a host path, e.g. /dev/fuse or /dev/fuse:/dev/fuse'), {
      error: 'devices must be a list of host device paths',
    })
    .optional(),
  mounts: z
    .array(
      z.strictObject({
        source: z.string().regex(/^\/[^\0:]*$/, 'source must be an absolute host path without ":", e.g. /data/in'),
        destination: z.string().regex(/^\/[^\0:]*$/, 'destination must be an absolute path in the container, e.g. /in'),
        read_only: z.boolean({ error: 'read_only must be true or false' }).optional(),
      }),
      { error: 'mounts must be a list of { source, destination, read_only? }' },
    )
    .optional(),
  checks: z.array(checkSchema, { error: 'checks must be a list of health checks' }).optional(),
  ports: z.array(portSchema, { error: 'ports must be a list of { name, static?, to? }' }).optional(),
  service: serviceSchema.optional(),
  upstreams: z.array(upstreamSchema).optional(),
  volumes: z.array(volumeMountSchema).optional(),
  secrets: z.array(taskSecretSchema, { error: 'secrets must be a list of { name, env?, change_mode? }' }).optional(),
});

export const constraintSchema = z.strictObject({
  attribute: z.string().optional(),
  operator: z
    .enum(['=', '!=', '<', '<=', '>', '>=', 'regexp', 'set_contains', 'set_contains_any', 'version', 'is_set', 'is_not_set', 'distinct_hosts'], {
      error: 'operator must be one of =, !=, <, <=, >, >=, regexp, set_contains, set_contains_any, version, is_set, is_not_set, distinct_hosts',
    })
    .optional(),
  value: z.union([z.string(), z.number(), z.boolean()]).transform(String).optional(),
});

/** Meta keys become environment variables of the task, so they must be valid variable names. */
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const metaKey = z
  .string({ error: 'a meta key must be a text' })
  .regex(ENV_NAME_RE, 'a meta key becomes an environment variable: letters, digits and _, not starting with a digit');

export const parameterizedSchema = z.strictObject({
  meta_required: z.array(metaKey, { error: 'meta_required must be a list of meta keys' }).optional(),
  meta_optional: z.array(metaKey, { error: 'meta_optional must be a list of meta keys' }).optional(),
  payload: z.enum(['optional', 'required', 'forbidden'], { error: 'payload must be "optional", "required" or "forbidden"' }).optional(),
});

/** cron and timezone are checked against croner in parse.ts, where the error can carry its line. */
export const periodicSchema = z.strictObject({
  cron: z.string({ error: 'cron must be a text, e.g. "0 3 * * *"' }).min(1, 'cron must not be empty'),
  timezone: z.string({ error: 'timezone must be a text, e.g. Europe/Paris' }).min(1, 'timezone must not be empty').optional(),
  overlap: z.enum(['skip', 'allow'], { error: 'overlap must be "skip" or "allow"' }).optional(),
});

export const onOomSchema = z.strictObject({
  grow: z
    .number({ error: 'retry.on_oom.grow must be a number, e.g. 1.5' })
    .gt(1, 'retry.on_oom.grow must be more than 1: a retry with the same memory would be OOM-killed again')
    .max(100, 'retry.on_oom.grow must be 100 or less'),
  max: memory,
});

export const retrySchema = z.strictObject({
  attempts: wholeNumber('retry.attempts', 0, 1000).optional(),
  delay: duration.optional(),
  max_delay: duration.optional(),
  on_oom: onOomSchema.optional(),
});

/** "never" keeps an alloc running however long its node is cut off */
const disconnectSchema = z.strictObject({
  stop_after: z.union([z.literal('never'), duration], { error: 'stop_after must be a duration like 30s, or "never"' }).optional(),
  replace_after: duration.optional(),
});

export const jobFileSchema = z.strictObject({
  name: name('job'),
  type: z.enum(['batch', 'service', 'system'], { error: 'type must be "batch", "service" or "system"' }),
  namespace: name('namespace').optional(),
  count: wholeNumber('count', 0, 10_000).optional(),
  priority: wholeNumber('priority', 1, 100).optional(),
  datacenters: z.array(z.string()).optional(),
  scheduling: z.enum(['binpack', 'spread'], { error: 'scheduling must be "binpack" or "spread"' }).optional(),
  constraints: z.array(constraintSchema).optional(),
  spread: z.array(spreadSchema).optional(),
  update: updateSchema.optional(),
  retry: retrySchema.optional(),
  restart: z
    .strictObject({
      attempts: wholeNumber('restart.attempts', 0, 1000).optional(),
      interval: duration.optional(),
      delay: duration.optional(),
      mode: z.enum(['fail', 'delay'], { error: 'restart.mode must be "fail" or "delay"' }).optional(),
    })
    .optional(),
  meta: stringMap.optional(),
  parameterized: parameterizedSchema.optional(),
  periodic: periodicSchema.optional(),
  preempt: z.boolean({ error: 'preempt must be true or false' }).optional(),
  disconnect: disconnectSchema.optional(),
  tasks: z.array(taskSchema, { error: 'tasks must be a list of tasks' }).min(1, 'a job needs at least one task in tasks'),
});

export type JobFile = z.output<typeof jobFileSchema>;

/** Field names per object, for "did you mean" on unknown fields. */
export const KNOWN_FIELDS: Record<string, readonly string[]> = {
  job: Object.keys(jobFileSchema.shape),
  task: Object.keys(taskSchema.shape),
  resources: Object.keys(resourcesSchema.shape),
  constraint: Object.keys(constraintSchema.shape),
  check: Object.keys(checkSchema.shape),
  ports: Object.keys(portSchema.shape),
  service: Object.keys(serviceSchema.shape),
  upstreams: Object.keys(upstreamSchema.shape),
  volumes: Object.keys(volumeMountSchema.shape),
  secret: Object.keys(taskSecretSchema.shape),
  update: Object.keys(updateSchema.shape),
  spread: Object.keys(spreadSchema.shape),
  retry: Object.keys(retrySchema.shape),
  on_oom: Object.keys(onOomSchema.shape),
  parameterized: Object.keys(parameterizedSchema.shape),
  periodic: Object.keys(periodicSchema.shape),
  restart: ['attempts', 'interval', 'delay', 'mode'],
  disconnect: Object.keys(disconnectSchema.shape),
};

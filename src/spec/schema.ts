/**
 * The job file format as users write it (snake_case, units as text), as zod
 * schemas that also convert to the internal JobSpec. Strict objects, so a
 * misspelt field is an error rather than silently ignored.
 */
import { z } from 'zod';
import { parseCpu, parseDuration, parseMemory, UnitError } from './units.js';

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

const stringMap = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String), {
  error: 'expected a mapping of names to values',
});

export const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGKILL', 'SIGUSR1', 'SIGUSR2'] as const;

export const resourcesSchema = z.strictObject({
  cpu: cpu.optional(),
  memory: memory.optional(),
  disk: memory.optional(),
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
});

export const constraintSchema = z.strictObject({
  attribute: z.string().min(1),
  operator: z
    .enum(['=', '!=', '<', '<=', '>', '>=', 'regexp', 'set_contains', 'is_set', 'is_not_set'], {
      error: 'operator must be one of =, !=, <, <=, >, >=, regexp, set_contains, is_set, is_not_set',
    })
    .optional(),
  value: z.union([z.string(), z.number(), z.boolean()]).transform(String).optional(),
});

export const jobFileSchema = z.strictObject({
  name: name('job'),
  type: z.enum(['batch', 'service'], { error: 'type must be "batch" or "service"' }),
  namespace: name('namespace').optional(),
  count: wholeNumber('count', 0, 10_000).optional(),
  priority: wholeNumber('priority', 1, 100).optional(),
  datacenters: z.array(z.string()).optional(),
  scheduling: z.enum(['binpack', 'spread'], { error: 'scheduling must be "binpack" or "spread"' }).optional(),
  constraints: z.array(constraintSchema).optional(),
  retry: z
    .strictObject({ attempts: wholeNumber('retry.attempts', 0, 1000).optional(), delay: duration.optional() })
    .optional(),
  restart: z
    .strictObject({
      attempts: wholeNumber('restart.attempts', 0, 1000).optional(),
      interval: duration.optional(),
      delay: duration.optional(),
      mode: z.enum(['fail', 'delay'], { error: 'restart.mode must be "fail" or "delay"' }).optional(),
    })
    .optional(),
  meta: stringMap.optional(),
  tasks: z.array(taskSchema, { error: 'tasks must be a list of tasks' }).min(1, 'a job needs at least one task in tasks'),
});

export type JobFile = z.output<typeof jobFileSchema>;

/** Field names per object, for "did you mean" on unknown fields. */
export const KNOWN_FIELDS: Record<string, readonly string[]> = {
  job: Object.keys(jobFileSchema.shape),
  task: Object.keys(taskSchema.shape),
  resources: Object.keys(resourcesSchema.shape),
  constraint: Object.keys(constraintSchema.shape),
  retry: ['attempts', 'delay'],
  restart: ['attempts', 'interval', 'delay', 'mode'],
};

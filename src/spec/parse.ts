/**
 * Job files (YAML or JSON) and spec objects → a validated JobSpec with its
 * defaults filled in. Every error names the field and, for files, the line.
 */
import { Cron } from 'croner';
import { isMap, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import type { ApiErrorDetail, Constraint, JobSpec, RetryPolicy, TaskSecretSpec, TaskSpec } from '../api/types.js';
import {
  DEFAULT_KILL_SIGNAL,
  DEFAULT_KILL_TIMEOUT_MS,
  DEFAULT_NAMESPACE,
  DEFAULT_OVERLAP,
  DEFAULT_PAYLOAD,
  DEFAULT_PREEMPT,
  DEFAULT_PRIORITY,
  DEFAULT_RETRY,
  DEFAULT_TASK_RESOURCES,
  DEFAULT_TIMEZONE,
  defaultRestart,
} from './defaults.js';
import { formatBytes, formatDuration } from './units.js';
import { formatPath, SpecError, suggest } from './errors.js';
import { jobFileSchema, KNOWN_FIELDS, type JobFile } from './schema.js';

export interface ParsedJob {
  spec: JobSpec;
  warnings: string[];
}

type Path = Array<string | number>;

/** Where a field sits in the file, so errors can carry a line. */
type Locate = (path: Path, key?: boolean) => { line: number; column: number } | undefined;

/** Parse the text of a job file (YAML, or JSON which is YAML too). */
export function parseJobSource(source: string, filename = 'job file'): ParsedJob {
  if (source.trim() === '') throw new SpecError(`${filename} is empty: a job needs at least name, type and tasks`, []);
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const details = doc.errors.map((e) => {
      const pos = lines.linePos(e.pos[0]);
      return { path: '(syntax)', message: e.message.split('\n')[0], line: pos.line, column: pos.col };
    });
    throw new SpecError(`${filename} is not valid YAML or JSON: ${details[0].message} (line ${details[0].line})`, details);
  }
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  const locate: Locate = (path, key) => {
    const node = findNode(doc, path, key);
    const offset = node?.range?.[0];
    if (offset === undefined) return undefined;
    const p = lines.linePos(offset);
    return { line: p.line, column: p.col };
  };
  return validate(value, filename, locate);
}

/** Validate an already parsed object (a JSON body's `spec`). */
export function parseJobObject(value: unknown): ParsedJob {
  return validate(value, 'job spec', () => undefined);
}

function findNode(doc: Document, path: Path, key?: boolean): YamlNode | undefined {
  if (!key) return (doc.getIn(path, true) as YamlNode | undefined) ?? (path.length ? findNode(doc, path.slice(0, -1)) : undefined);
  const parent = path.length > 1 ? doc.getIn(path.slice(0, -1), true) : doc.contents;
  if (isMap(parent)) {
    const pair = parent.items.find((p) => (p.key as { value?: unknown } | null)?.value === path[path.length - 1]);
    if (pair?.key) return pair.key as YamlNode;
  }
  return findNode(doc, path.slice(0, -1));
}

function validate(value: unknown, filename: string, locate: Locate): ParsedJob {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const got = Array.isArray(value) ? 'a list' : value === null ? 'nothing' : `a ${typeof value}`;
    throw new SpecError(`${filename} must hold a mapping with name, type and tasks, but it holds ${got}`, [
      { path: '(top level)', message: `expected an object (a mapping), got ${got}`, line: 1 },
    ]);
  }
  const result = jobFileSchema.safeParse(value, { reportInput: true });
  const details: ApiErrorDetail[] = [];
  if (!result.success) {
    for (const issue of result.error.issues) details.push(...issueDetails(issue, locate));
  } else {
    details.push(...crossChecks(result.data, locate));
  }
  if (details.length > 0) {
    const first = details[0];
    const where = first.line !== undefined ? ` (line ${first.line})` : '';
    throw new SpecError(`${filename} has ${details.length === 1 ? 'an error' : `${details.length} errors`}: ${first.path}: ${first.message}${where}`, details);
  }
  return toSpec(result.data!);
}

function issueDetails(issue: z.core.$ZodIssue, locate: Locate): ApiErrorDetail[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    const known = KNOWN_FIELDS[objectKind(path)] ?? [];
    return issue.keys.map((k) => {
      const hint = suggest(k, known);
      const fieldPath = [...path, k];
      return {
        path: formatPath(fieldPath),
        message: `unknown field "${k}"${hint ? ` (did you mean "${hint}"?)` : ''}; allowed here: ${known.join(', ')}`,
        ...locate(fieldPath, true),
      };
    });
  }
  let message = issue.message;
  if (issue.code === 'invalid_type' && 'input' in issue && issue.input === undefined) message = `${path[path.length - 1] ?? 'field'} is required`;
  return [{ path: formatPath(path), message, ...locate(path) }];
}

/** Which kind of object a path points into, to list its fields. */
function objectKind(path: Path): string {
  if (path.length === 0) return 'job';
  const last = path[path.length - 1];
  if (path[0] === 'tasks' && path[2] === 'checks') return path.length === 4 ? 'check' : String(last);
  if (path[0] === 'tasks' && path[2] === 'secrets') return path.length === 4 ? 'secret' : String(last);
  if (path[0] === 'tasks') return path.length === 2 ? 'task' : String(last);
  if (path[0] === 'constraints') return 'constraint';
  return String(last);
}

function crossChecks(file: JobFile, locate: Locate): ApiErrorDetail[] {
  const out: ApiErrorDetail[] = [];
  const seen = new Set<string>();
  file.tasks.forEach((t, i) => {
    const at = (field: string, message: string): void => {
      const path = ['tasks', i, field];
      out.push({ path: formatPath(path), message, ...locate(path) });
    };
    if (seen.has(t.name)) at('name', `task name "${t.name}" is used twice; every task of a job needs its own name`);
    seen.add(t.name);
    if (t.driver === 'docker' && !t.image) at('image', 'a docker task needs an image, e.g. image: busybox:latest');
    if (t.driver === 'exec' && !t.command) at('command', 'an exec task needs a command, e.g. command: /bin/sh');
    if (t.driver === 'exec' && t.image) at('image', 'image is only for docker tasks; an exec task runs command on the node');
    for (const f of ['privileged', 'network_mode', 'pid_mode', 'cap_add', 'devices', 'mounts'] as const) {
      if (t.driver === 'exec' && t[f] !== undefined) at(f, `${f} is only for docker tasks`);
    }
    const mem = t.resources?.memory;
    if (mem !== undefined && mem < 4 * 1024 ** 2) at('resources', `memory ${mem} bytes is too small: ask for at least 4Mi`);
    if (t.timeout === 0) at('timeout', 'timeout must be more than 0; leave it out for no timeout');
    const portNames = new Set<string>();
    (t.ports ?? []).forEach((p, k) => {
      if (portNames.has(p.name)) {
        const path = ['tasks', i, 'ports', k, 'name'];
        out.push({ path: formatPath(path), message: `port name "${p.name}" is used twice in this task`, ...locate(path) });
      }
      portNames.add(p.name);
    });
    if (t.service && !portNames.has(t.service.port)) {
      const path = ['tasks', i, 'service', 'port'];
      out.push({
        path: formatPath(path),
        message: `service port "${t.service.port}" is not one of this task's ports (${[...portNames].join(', ') || 'none declared'})`,
        ...locate(path),
      });
    }
    const secretNames = new Set<string>();
    (t.secrets ?? []).forEach((x, k) => {
      const atSecret = (field: string, message: string): void => {
        const path = ['tasks', i, 'secrets', k, field];
        out.push({ path: formatPath(path), message, ...locate(path) });
      };
      if (secretNames.has(x.name)) atSecret('name', `secret "${x.name}" is named twice in this task`);
      secretNames.add(x.name);
      if (x.file !== undefined && t.driver !== 'docker') atSecret('file', 'file is for docker tasks; an exec task reads $BATON_TASK_DIR/secrets/<name>/<key>');
      if (x.key !== undefined && x.file === undefined) atSecret('key', 'key says which key file shows: give file too, or leave key out');
      if (x.change_signal !== undefined && x.change_mode !== 'signal') atSecret('change_signal', 'change_signal is for change_mode: signal');
      for (const env of Object.keys(x.env ?? {})) if (Object.hasOwn(t.env ?? {}, env)) atSecret('env', `${env} is also in the task's env: give it one source`);
    });
    const checkNames = new Set<string>();
    (t.checks ?? []).forEach((c, k) => {
      const atCheck = (field: string, message: string): void => {
        const path = ['tasks', i, 'checks', k, field];
        out.push({ path: formatPath(path), message, ...locate(path) });
      };
      const cname = c.name ?? `${c.type}-${k}`;
      if (checkNames.has(cname)) atCheck('name', `check name "${cname}" is used twice in this task`);
      checkNames.add(cname);
      if ((c.type === 'http' || c.type === 'tcp') && c.port === undefined)
        atCheck('port', `an ${c.type} check needs the port the task listens on, e.g. port: 8080`);
      if (c.type === 'command' && !c.command) atCheck('command', 'a command check needs a command, e.g. command: /bin/check');
      if (c.type !== 'http' && (c.path !== undefined || c.expect_status !== undefined)) atCheck('path', 'path and expect_status are only for http checks');
      if (c.type !== 'command' && (c.command !== undefined || c.args !== undefined)) atCheck('command', 'command and args are only for command checks');
    });
  });
  if (file.type === 'system' && file.count !== undefined) {
    out.push({ path: 'count', message: 'a system job runs one alloc on every eligible node: leave count out', ...locate(['count']) });
  }
  out.push(...templateChecks(file, locate), ...retryChecks(file, locate));
  (file.constraints ?? []).forEach((c, i) => {
    const op = c.operator ?? '=';
    if (op !== 'distinct_hosts' && !c.attribute) {
      const path = ['constraints', i, 'attribute'];
      out.push({ path: formatPath(path), message: 'attribute is required, e.g. ${node.class}', ...locate(['constraints', i]) });
    }
    if (op !== 'is_set' && op !== 'is_not_set' && op !== 'distinct_hosts' && c.value === undefined) {
      const path = ['constraints', i, 'value'];
      out.push({ path: formatPath(path), message: `operator ${op} needs a value`, ...locate(['constraints', i]) });
    }
    if (op === 'regexp' && c.value !== undefined) {
      try {
        new RegExp(c.value);
      } catch (err) {
        const path = ['constraints', i, 'value'];
        out.push({ path: formatPath(path), message: `not a valid regular expression: ${(err as Error).message}`, ...locate(path) });
      }
    }
  });
  return out;
}

/** parameterized and periodic: batch templates, one or the other, with a cron and zone croner accepts. */
function templateChecks(file: JobFile, locate: Locate): ApiErrorDetail[] {
  const out: ApiErrorDetail[] = [];
  const at = (path: Path, message: string, key = false): void => {
    out.push({ path: formatPath(path), message, ...locate(path, key) });
  };
  for (const kind of ['parameterized', 'periodic'] as const) {
    if (file[kind] && file.type !== 'batch') {
      at([kind], `${kind} is only for batch jobs: each ${kind === 'periodic' ? 'launch' : 'dispatch'} runs to completion`, true);
    }
  }
  if (file.parameterized && file.periodic) {
    at(['periodic'], 'a job is either parameterized (runs on dispatch) or periodic (runs on a schedule), not both', true);
  }
  const p = file.parameterized;
  if (p) {
    const required = new Set(p.meta_required ?? []);
    (p.meta_optional ?? []).forEach((k, i) => {
      if (required.has(k)) at(['parameterized', 'meta_optional', i], `meta key "${k}" is both required and optional; list it once`);
    });
    for (const list of ['meta_required', 'meta_optional'] as const) {
      const seen = new Set<string>();
      (p[list] ?? []).forEach((k, i) => {
        if (seen.has(k)) at(['parameterized', list, i], `meta key "${k}" is listed twice`);
        seen.add(k);
      });
    }
  }
  const per = file.periodic;
  if (per) {
    const timezone = per.timezone ?? DEFAULT_TIMEZONE;
    let zoneOk = true;
    if (per.timezone !== undefined) {
      try {
        new Intl.DateTimeFormat('en', { timeZone: per.timezone });
      } catch {
        zoneOk = false;
        at(['periodic', 'timezone'], `unknown time zone "${per.timezone}": use an IANA name such as UTC, Europe/Paris or America/New_York`);
      }
    }
    try {
      // paused: validation only, no timer. A bad zone is reported above; check the cron in UTC then.
      new Cron(per.cron, { paused: true, timezone: zoneOk ? timezone : DEFAULT_TIMEZONE }).stop();
    } catch (err) {
      const why = (err as Error).message.replace(/^CronPattern:\s*/, '');
      at(['periodic', 'cron'], `"${per.cron}" is not a valid cron expression (${why}); e.g. "0 3 * * *" is every day at 03:00`);
    }
  }
  return out;
}

function retryChecks(file: JobFile, locate: Locate): ApiErrorDetail[] {
  const out: ApiErrorDetail[] = [];
  const r = file.retry;
  if (!r) return out;
  const delay = r.delay ?? DEFAULT_RETRY.delayMs;
  if (r.max_delay !== undefined && r.max_delay < delay) {
    const path = ['retry', 'max_delay'];
    out.push({ path: formatPath(path), message: `max_delay ${formatDuration(r.max_delay)} is shorter than delay ${formatDuration(delay)}`, ...locate(path) });
  }
  if (r.on_oom) {
    const largest = Math.max(...file.tasks.map((t) => t.resources?.memory ?? DEFAULT_TASK_RESOURCES.memory));
    if (r.on_oom.max <= largest) {
      const path = ['retry', 'on_oom', 'max'];
      out.push({
        path: formatPath(path),
        message: `max ${formatBytes(r.on_oom.max)} leaves no room to grow: a task already asks for ${formatBytes(largest)}`,
        ...locate(path),
      });
    }
  }
  return out;
}

function toRetry(r: JobFile['retry']): RetryPolicy {
  const delayMs = r?.delay ?? DEFAULT_RETRY.delayMs;
  const retry: RetryPolicy = {
    attempts: r?.attempts ?? DEFAULT_RETRY.attempts,
    delayMs,
    // a delay longer than the default cap raises the cap with it rather than being cut
    maxDelayMs: r?.max_delay ?? Math.max(DEFAULT_RETRY.maxDelayMs, delayMs),
  };
  if (r?.on_oom) retry.onOom = { grow: r.on_oom.grow, max: r.on_oom.max };
  return retry;
}

function toSpec(f: JobFile): ParsedJob {
  const warnings: string[] = [];
  const restartDefaults = defaultRestart(f.type);
  const tasks: TaskSpec[] = f.tasks.map((t) => ({
    name: t.name,
    driver: t.driver,
    image: t.image,
    command: t.command,
    args: t.args ?? [],
    env: t.env ?? {},
    resources: {
      cpu: t.resources?.cpu ?? DEFAULT_TASK_RESOURCES.cpu,
      memory: t.resources?.memory ?? DEFAULT_TASK_RESOURCES.memory,
      disk: t.resources?.disk ?? DEFAULT_TASK_RESOURCES.disk,
      ...(t.resources?.cpu_limit !== undefined ? { cpuLimit: t.resources.cpu_limit } : {}),
    },
    killSignal: t.kill_signal ?? DEFAULT_KILL_SIGNAL,
    killTimeoutMs: t.kill_timeout ?? DEFAULT_KILL_TIMEOUT_MS,
    ...(t.timeout !== undefined ? { timeoutMs: t.timeout } : {}),
    ...(t.checks?.length
      ? {
          checks: t.checks.map((c, k) => ({
            name: c.name ?? `${c.type}-${k}`,
            type: c.type,
            ...(c.port !== undefined ? { port: c.port } : {}),
            ...(c.type === 'http' ? { path: c.path ?? '/' } : {}),
            ...(c.expect_status !== undefined ? { expectStatus: c.expect_status } : {}),
            ...(c.command !== undefined ? { command: c.command, args: c.args ?? [] } : {}),
            intervalMs: c.interval ?? 10_000,
            timeoutMs: c.timeout ?? 2_000,
            retries: c.retries ?? 3,
            startPeriodMs: c.start_period ?? 0,
            restartOnUnhealthy: c.restart_on_unhealthy ?? true,
          })),
        }
      : {}),
    ...(t.ports?.length
      ? { ports: t.ports.map((p) => ({ name: p.name, ...(p.static !== undefined ? { static: p.static } : {}), ...(p.to !== undefined ? { to: p.to } : {}) })) }
      : {}),
    ...(t.service ? { service: { name: t.service.name, port: t.service.port, tags: t.service.tags ?? [] } } : {}),
    ...(t.upstreams?.length ? { upstreams: t.upstreams.map((u) => ({ service: u.service, ...(u.env ? { env: u.env } : {}) })) } : {}),
    ...(t.volumes?.length ? { volumes: t.volumes.map((v) => ({ volume: v.volume, destination: v.destination, readOnly: v.read_only ?? false })) } : {}),
    ...(t.secrets?.length ? { secrets: t.secrets.map(taskSecret) } : {}),
    ...(t.user !== undefined ? { user: t.user } : {}),
    ...(t.privileged ? { privileged: true } : {}),
    ...(t.network_mode === 'host' ? { networkMode: 'host' as const } : {}),
    ...(t.pid_mode === 'host' ? { pidMode: 'host' as const } : {}),
    ...(t.cap_add?.length ? { capAdd: t.cap_add } : {}),
    ...(t.devices?.length ? { devices: t.devices } : {}),
    ...(t.mounts?.length ? { mounts: t.mounts.map((m) => ({ source: m.source, destination: m.destination, readOnly: m.read_only ?? false })) } : {}),
  }));
  const constraints: Constraint[] = (f.constraints ?? []).map((c) => ({
    attribute: c.attribute ?? '',
    operator: c.operator ?? '=',
    value: c.value ?? '',
  }));
  const spec: JobSpec = {
    ...(f.update
      ? {
          update: {
            maxParallel: f.update.max_parallel ?? 1,
            minHealthyTimeMs: f.update.min_healthy_time ?? 10_000,
            healthyDeadlineMs: f.update.healthy_deadline ?? 5 * 60_000,
            autoRevert: f.update.auto_revert ?? false,
            canary: f.update.canary ?? 0,
          },
        }
      : {}),
    ...(f.spread?.length ? { spread: f.spread.map((x) => ({ attribute: x.attribute, weight: x.weight ?? 50 })) } : {}),
    name: f.name,
    namespace: f.namespace ?? DEFAULT_NAMESPACE,
    type: f.type,
    count: f.count ?? 1,
    priority: f.priority ?? DEFAULT_PRIORITY,
    datacenters: f.datacenters,
    constraints,
    scheduling: f.scheduling ?? 'binpack',
    tasks,
    retry: toRetry(f.retry),
    restart: {
      attempts: f.restart?.attempts ?? restartDefaults.attempts,
      intervalMs: f.restart?.interval ?? restartDefaults.intervalMs,
      delayMs: f.restart?.delay ?? restartDefaults.delayMs,
      mode: f.restart?.mode ?? restartDefaults.mode,
    },
    meta: f.meta ?? {},
    preempt: f.preempt ?? DEFAULT_PREEMPT,
  };
  if (f.disconnect) {
    const d = f.disconnect;
    spec.disconnect = {
      ...(d.stop_after !== undefined ? { stopAfterMs: d.stop_after === 'never' ? null : d.stop_after } : {}),
      ...(d.replace_after !== undefined ? { replaceAfterMs: d.replace_after } : {}),
    };
    if (d.stop_after === 'never' && !d.replace_after) {
      warnings.push('disconnect.stop_after is "never" and replace_after is 0: when its node is cut off, a replacement runs while this copy may still run');
    }
  }
  if (f.parameterized) {
    spec.parameterized = {
      metaRequired: f.parameterized.meta_required ?? [],
      metaOptional: f.parameterized.meta_optional ?? [],
      payload: f.parameterized.payload ?? DEFAULT_PAYLOAD,
    };
  }
  if (f.periodic) {
    spec.periodic = { cron: f.periodic.cron, timezone: f.periodic.timezone ?? DEFAULT_TIMEZONE, overlap: f.periodic.overlap ?? DEFAULT_OVERLAP };
  }
  if (f.type === 'batch' && f.restart) warnings.push('restart applies to local restarts of a batch task; to run a failed batch alloc again use retry.attempts');
  return { spec, warnings };
}

function taskSecret(x: NonNullable<JobFile['tasks'][number]['secrets']>[number]): TaskSecretSpec {
  const changeMode = x.change_mode ?? 'restart';
  return {
    name: x.name,
    ...(x.env && Object.keys(x.env).length > 0 ? { env: x.env } : {}),
    ...(x.file !== undefined ? { file: x.file } : {}),
    ...(x.key !== undefined ? { key: x.key } : {}),
    changeMode,
    ...(changeMode === 'signal' ? { changeSignal: x.change_signal ?? 'SIGHUP' } : {}),
  };
}

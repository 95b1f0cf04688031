/**
 * A docker-compose file → a stack of baton service jobs, one per compose
 * service, named `<stack>-<service>` and tagged with meta stack=<stack>.
 *
 * Pure apart from the injected readFile (env_file, .env): no network, no
 * clock, so every mapping is unit-tested from text to specs.
 *
 * The output is the job *file* format (snake_case, units as text), not the
 * internal JobSpec: it is what `--dry-run` prints (a user can save it and
 * `baton run` it), and what the server validates on submit. Each job is also
 * run through the job parser here, so a compose file never yields a job the
 * server would refuse.
 *
 * Whatever cannot be honoured is a warning with its line; whatever is not
 * valid compose is an error with its line, all errors of the file at once.
 */
import { isAbsolute, join, resolve } from 'node:path';
import { secretFiles, serviceSecrets, topSecrets, type ComposeSecretFile, type TopSecret } from './secrets.js';
import { isMap, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import type { JobSpec } from '../api/types.js';
import { formatPath, SpecError, suggest } from '../spec/errors.js';
import { parseJobObject } from '../spec/parse.js';
import { SIGNALS } from '../spec/schema.js';
import {
  DEPENDS_ON_KEYS,
  DEPLOY_KEYS,
  DEPLOY_UNSUPPORTED,
  HEALTHCHECK_KEYS,
  PLACEMENT_KEYS,
  PORT_KEYS,
  RESOURCE_KEYS,
  RESTART_POLICY_KEYS,
  SERVICE_KEYS,
  SERVICE_UNSUPPORTED,
  TOP_LEVEL_KEYS,
  TOP_LEVEL_UNSUPPORTED,
  TOP_VOLUME_KEYS,
  UPDATE_CONFIG_KEYS,
  VOLUME_KEYS,
} from './keys.js';
import {
  ComposeValueError,
  describe,
  formatBytesExact,
  formatMs,
  interpolate,
  parseComposeBytes,
  parseComposeCpus,
  parseComposeDuration,
  parseEnvFile,
  splitCommand,
} from './units.js';

export interface ComposeIssue {
  /** e.g. `services.web.ports[0]` */
  path: string;
  message: string;
  line?: number;
  column?: number;
}

export type DependencyCondition = 'service_started' | 'service_healthy' | 'service_completed_successfully';

export interface ComposeDependency {
  service: string;
  /** the job that runs it */
  job: string;
  condition: DependencyCondition;
}

export interface ComposeJob {
  /** the compose service name */
  service: string;
  /** the job name: `<stack>-<service>` */
  name: string;
  /** the job in baton's job file format: what is printed and submitted */
  file: Record<string, unknown>;
  /** the same job as the server will see it, with defaults */
  spec: JobSpec;
  dependsOn: ComposeDependency[];
}

export interface ComposeStack {
  stack: string;
  /** in dependency order: every job comes after the jobs it depends on */
  jobs: ComposeJob[];
  warnings: ComposeIssue[];
  /** file-backed secrets the CLI puts (from the file, at deploy) before it submits */
  secrets: ComposeSecretFile[];
}

export interface ComposeOptions {
  /** shown in messages; also the source of the default stack name */
  filename?: string;
  /** directory of the compose file: env_file, .env and relative bind mounts are relative to it */
  dir?: string;
  /** the stack name (`--name`); default COMPOSE_PROJECT_NAME, the file's `name:`, then the directory's name */
  stack?: string;
  /** put the jobs in this namespace */
  namespace?: string;
  /** variables for ${VAR} interpolation (the shell's); `.env` beside the file fills in the rest */
  env?: Readonly<Record<string, string | undefined>>;
  /** reads env files; throws an error with code ENOENT when missing. Absent: env files are an error. */
  readFile?: (path: string) => string;
  /** home directory for `~/` in bind mounts */
  home?: string;
}

type Path = Array<string | number>;
type Obj = Record<string, unknown>;

const JOB_NAME_RE = /^[a-z0-9]([a-z0-9._-]{0,62})$/;

/** Compose project names: lowercase letters, digits, '-' and '_', starting with a letter or digit. */
export function normalizeStackName(raw: string): string {
  return raw
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '')
    .replace(/^[-_]+/, '');
}

export function upstreamEnvName(service: string): string {
  return `BATON_UPSTREAM_${service.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`;
}

/** A host path → a host volume name the agent can offer: `/srv/app/data` → `srv-app-data`. */
export function volumeNameForPath(path: string): string {
  const slug = path
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^[-.]+|-+$/g, '');
  return (slug || 'root').slice(0, 64);
}

class Context {
  readonly errors: ComposeIssue[] = [];
  readonly warnings: ComposeIssue[] = [];
  private readonly warned = new Set<string>();

  constructor(
    private readonly doc: Document | undefined,
    private readonly lines: LineCounter | undefined,
  ) {}

  where(path: Path, key = false): { line?: number; column?: number } {
    if (!this.doc || !this.lines) return {};
    const node = findNode(this.doc, path, key);
    const offset = node?.range?.[0];
    if (offset === undefined) return {};
    const p = this.lines.linePos(offset);
    return { line: p.line, column: p.col };
  }

  error(path: Path, message: string, key = false): void {
    this.errors.push({ path: formatPath(path), message, ...this.where(path, key) });
  }

  /** `once`: a key so the same warning (e.g. one named volume used by many services) is given once */
  warn(path: Path, message: string, key = false, once?: string): void {
    if (once !== undefined) {
      if (this.warned.has(once)) return;
      this.warned.add(once);
    }
    this.warnings.push({ path: formatPath(path), message, ...this.where(path, key) });
  }

  unsupported(path: Path, reason: string): void {
    this.warn(path, `${String(path[path.length - 1])} is not supported and is ignored: ${reason}`, true);
  }

  /** Check a mapping's keys: unknown ones are errors (with a suggestion), x- extensions are skipped. */
  keys(value: Obj, path: Path, known: readonly string[], unsupported: Record<string, string> = {}): void {
    for (const k of Object.keys(value)) {
      if (k.startsWith('x-')) continue;
      if (Object.hasOwn(unsupported, k)) this.unsupported([...path, k], unsupported[k]);
      else if (!known.includes(k)) {
        const hint = suggest(k, known);
        this.error([...path, k], `unknown key "${k}"${hint ? ` (did you mean "${hint}"?)` : ''}; allowed here: ${known.join(', ')}`, true);
      }
    }
  }
}

function findNode(doc: Document, path: Path, key: boolean): YamlNode | undefined {
  if (!key) {
    const n = doc.getIn(path, true) as YamlNode | undefined;
    if (n && typeof n === 'object' && 'range' in n && n.range) return n;
    return path.length ? findNode(doc, path.slice(0, -1), false) : undefined;
  }
  const parent = path.length > 1 ? doc.getIn(path.slice(0, -1), true) : doc.contents;
  if (isMap(parent)) {
    const pair = parent.items.find((p) => (p.key as { value?: unknown } | null)?.value === path[path.length - 1]);
    if (pair?.key) return pair.key as YamlNode;
  }
  return path.length ? findNode(doc, path.slice(0, -1), false) : undefined;
}

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Parse the text of a compose file and translate it; throws SpecError with every error and its line. */
export function translateCompose(source: string, opts: ComposeOptions = {}): ComposeStack {
  const filename = opts.filename ?? 'compose file';
  if (source.trim() === '')
    throw new SpecError(`${filename} is empty: a compose file needs services`, [{ path: '(top level)', message: 'the file is empty', line: 1 }]);
  const lines = new LineCounter();
  // merge: compose files often share settings with `<<: *anchor`
  const doc = parseDocument(source, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, merge: true });
  if (doc.errors.length > 0) {
    const details = doc.errors.map((e) => {
      const pos = lines.linePos(e.pos[0]);
      return { path: '(syntax)', message: e.message.split('\n')[0], line: pos.line, column: pos.col };
    });
    throw new SpecError(`${filename} is not valid YAML: ${details[0].message} (line ${details[0].line})`, details);
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 1000 });
  const ctx = new Context(doc, lines);
  const result = translateValue(raw, ctx, filename, opts);
  if (ctx.errors.length > 0 || !result) {
    const first = ctx.errors[0] ?? { path: '(top level)', message: 'not a compose file' };
    throw new SpecError(
      `${filename} is not a valid compose file (${ctx.errors.length === 1 ? '1 error' : `${ctx.errors.length} errors`}): ${first.path}: ${first.message}${first.line !== undefined ? ` (line ${first.line})` : ''}`,
      ctx.errors,
    );
  }
  // in file order, as a reader goes through the file
  const warnings = [...ctx.warnings].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  return { ...result, warnings };
}

function readEnvFile(
  ctx: Context,
  opts: ComposeOptions,
  file: string,
  path: Path,
  required: boolean,
  lookup: (n: string) => string | undefined,
): Record<string, string> {
  const full = isAbsolute(file) ? file : join(opts.dir ?? '.', file);
  if (!opts.readFile) {
    ctx.error(path, `env_file ${file} cannot be read here`);
    return {};
  }
  let text: string;
  try {
    text = opts.readFile(full);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      if (required) ctx.error(path, `env_file ${full} does not exist`);
      else ctx.warn(path, `env_file ${full} does not exist (required: false, so it is skipped)`);
    } else ctx.error(path, `cannot read env_file ${full}: ${(err as Error).message}`);
    return {};
  }
  const parsed = parseEnvFile(text, lookup);
  for (const e of parsed.errors) ctx.error(path, `${full} line ${e.line}: ${e.message}`);
  return parsed.env;
}

/** Interpolate every string value (not keys) in place; unset variables become empty, with a warning. */
function interpolateAll(value: unknown, path: Path, env: Readonly<Record<string, string | undefined>>, ctx: Context): unknown {
  if (typeof value === 'string') {
    try {
      const r = interpolate(value, env);
      for (const name of r.unset) ctx.warn(path, `variable ${name} is not set: it becomes an empty text`, false, `unset:${name}`);
      return r.value;
    } catch (err) {
      if (err instanceof ComposeValueError) {
        ctx.error(path, err.message);
        return value;
      }
      throw err;
    }
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateAll(v, [...path, i], env, ctx));
  if (isObj(value)) {
    const out: Obj = {};
    for (const [k, v] of Object.entries(value)) out[k] = k.startsWith('x-') ? v : interpolateAll(v, [...path, k], env, ctx);
    return out;
  }
  return value;
}

function dotEnv(ctx: Context, opts: ComposeOptions): Record<string, string> {
  if (!opts.readFile || opts.dir === undefined) return {};
  try {
    const parsed = parseEnvFile(opts.readFile(join(opts.dir, '.env')));
    for (const e of parsed.errors) ctx.warn([], `.env line ${e.line}: ${e.message}; the line is skipped`);
    return parsed.env;
  } catch {
    // .env is optional, as in compose
    return {};
  }
}

interface Translated {
  stack: string;
  jobs: ComposeJob[];
  secrets: ComposeSecretFile[];
}

interface TopVolume {
  name: string;
}

function translateValue(raw: unknown, ctx: Context, filename: string, opts: ComposeOptions): Translated | undefined {
  if (!isObj(raw)) {
    ctx.error([], `a compose file is a mapping with services, but ${filename} holds ${describe(raw)}`);
    return undefined;
  }
  // the shell wins over .env, as in compose
  const env: Record<string, string | undefined> = { ...dotEnv(ctx, opts), ...(opts.env ?? {}) };
  const file = interpolateAll(raw, [], env, ctx) as Obj;
  ctx.keys(file, [], TOP_LEVEL_KEYS, TOP_LEVEL_UNSUPPORTED);

  const stack = stackName(file, ctx, filename, opts);
  const volumes = topVolumes(file.volumes, ctx);
  const secrets = topSecrets(file.secrets, ctx, stack, opts.dir);

  if (file.services === undefined || file.services === null) {
    ctx.error(['services'], 'services is required: a compose file needs at least one service', true);
    return undefined;
  }
  if (!isObj(file.services)) {
    ctx.error(['services'], `services must be a mapping of service names to services, got ${describe(file.services)}`);
    return undefined;
  }
  const names = Object.keys(file.services);
  if (names.length === 0) {
    ctx.error(['services'], 'services is empty: a compose file needs at least one service');
    return undefined;
  }
  const jobs = new Map<string, ComposeJob & { hasService: boolean; hasCheck: boolean }>();
  for (const name of names) {
    const t = translateService(name, file.services[name], { ctx, opts, stack, volumes, env, secrets });
    if (t) jobs.set(name, t);
  }
  // dependencies: upstreams need to know which dependency registers a service
  for (const job of jobs.values()) {
    const ups: Array<{ service: string; env: string }> = [];
    for (const d of job.dependsOn) {
      const dep = jobs.get(d.service);
      if (!dep) continue;
      const path = ['services', job.service, 'depends_on', d.service];
      if (d.condition === 'service_healthy' && !dep.hasCheck) {
        ctx.warn(path, `${d.service} has no healthcheck: ${job.service} waits for it to be running instead`, true);
        d.condition = 'service_started';
      }
      if (d.condition === 'service_completed_successfully') continue;
      if (!dep.hasService) {
        ctx.warn(path, `${d.service} publishes no ports, so ${job.service} gets no address for it (only the start order); add ports to ${d.service}`, true);
        continue;
      }
      ups.push({ service: dep.name, env: upstreamEnvName(d.service) });
    }
    if (ups.length) (job.file.tasks as Obj[])[0].upstreams = ups;
  }
  const ordered = dependencyOrder([...jobs.values()], ctx);
  if (ctx.errors.length > 0) return undefined;
  const out: ComposeJob[] = [];
  for (const j of ordered) {
    try {
      const parsed = parseJobObject(j.file);
      out.push({ service: j.service, name: j.name, file: j.file, spec: parsed.spec, dependsOn: j.dependsOn });
    } catch (err) {
      if (!(err instanceof SpecError)) throw err;
      // the job format refused what the service asks for (e.g. memory below 4Mi): name the service
      for (const d of err.details) ctx.error(['services', j.service], `the job for ${j.service} is not valid: ${d.path}: ${d.message}`, true);
    }
  }
  if (ctx.errors.length > 0) return undefined;
  const used = new Set(out.flatMap((j) => j.spec.tasks.flatMap((t) => (t.secrets ?? []).map((x) => x.name))));
  return { stack, jobs: out, secrets: secretFiles(secrets, used) };
}

function stackName(file: Obj, ctx: Context, filename: string, opts: ComposeOptions): string {
  let raw: string;
  let from: string;
  if (opts.stack) [raw, from] = [opts.stack, '--name'];
  else if (opts.env?.COMPOSE_PROJECT_NAME) [raw, from] = [opts.env.COMPOSE_PROJECT_NAME, 'COMPOSE_PROJECT_NAME'];
  else if (typeof file.name === 'string' && file.name) [raw, from] = [file.name, 'name'];
  else if (opts.dir) [raw, from] = [resolve(opts.dir).split(/[\\/]/).pop() ?? '', `the directory of ${filename}`];
  else [raw, from] = ['', ''];
  if (file.name !== undefined && typeof file.name !== 'string') ctx.error(['name'], `name must be a text, got ${describe(file.name)}`);
  const stack = normalizeStackName(raw);
  if (!stack) {
    if (from) ctx.error(from === 'name' ? ['name'] : [], `stack name "${raw}" (from ${from}) has no lowercase letters or digits; give one with --name`);
    else ctx.error([], 'the stack needs a name: give --name or set name: in the file');
  } else if (from === '--name' && stack !== raw) {
    throw new SpecError(`stack name "${raw}" is not valid: use lowercase letters, digits, '-' and '_' (e.g. "${stack}")`, []);
  }
  return stack;
}

function topVolumes(value: unknown, ctx: Context): Map<string, TopVolume> {
  const out = new Map<string, TopVolume>();
  if (value === undefined || value === null) return out;
  if (!isObj(value)) {
    ctx.error(['volumes'], `volumes must be a mapping of volume names, got ${describe(value)}`);
    return out;
  }
  for (const [name, def] of Object.entries(value)) {
    if (name.startsWith('x-')) continue;
    const path = ['volumes', name];
    let hostName = name;
    if (def !== null && def !== undefined) {
      if (!isObj(def)) {
        ctx.error(path, `a volume is a mapping (or empty), got ${describe(def)}`);
        continue;
      }
      ctx.keys(def, path, TOP_VOLUME_KEYS, {
        driver: 'named volumes are host volumes the agents offer (baton agent --volume NAME=PATH)',
        driver_opts: 'named volumes are host volumes the agents offer (baton agent --volume NAME=PATH)',
        external: 'every named volume is already outside baton: a host volume the agents offer',
        labels: 'host volumes have no labels',
      });
      if (def.name !== undefined) {
        if (typeof def.name === 'string' && def.name) hostName = def.name;
        else ctx.error([...path, 'name'], `name must be a text, got ${describe(def.name)}`);
      }
    }
    out.set(name, { name: hostName });
  }
  return out;
}

interface ServiceCtx {
  ctx: Context;
  opts: ComposeOptions;
  stack: string;
  volumes: Map<string, TopVolume>;
  env: Readonly<Record<string, string | undefined>>;
  secrets: Map<string, TopSecret>;
}

/** A value that must be a text (numbers are accepted as text, as compose does). */
function text(ctx: Context, v: unknown, path: Path): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  ctx.error(path, `${String(path[path.length - 1])} must be a text, got ${describe(v)}`);
  return undefined;
}

function wholeNumber(ctx: Context, v: unknown, path: Path, min: number): number | undefined {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min) {
    ctx.error(path, `${String(path[path.length - 1])} must be a whole number of ${min} or more, got ${describe(v)}`);
    return undefined;
  }
  return n;
}

function unit<T>(ctx: Context, v: unknown, path: Path, parse: (v: unknown) => T): T | undefined {
  try {
    return parse(v);
  } catch (err) {
    if (!(err instanceof ComposeValueError)) throw err;
    ctx.error(path, err.message);
    return undefined;
  }
}

/** A command as a list or a string (split like a shell, not run by one). */
function commandList(ctx: Context, v: unknown, path: Path): string[] | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return unit(ctx, v, path, (s) => splitCommand(s as string));
  if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number')) return v.map(String);
  ctx.error(path, `${String(path[path.length - 1])} must be a text or a list of texts, got ${describe(v)}`);
  return undefined;
}

/**
 * privileged, network_mode: host, pid: host, cap_add and devices become the
 * task's asks: never dropped in silence, they place the job only on agents
 * whose operator allows them (baton agent --allow ...), and the deploy says so.
 */
function privilegeAsks(value: Obj, path: Path, ctx: Context): Obj {
  const out: Obj = {};
  const needs = (key: string, how: string): void =>
    ctx.warn([...path, key], `${key} runs only on agents started with ${how}; other agents never take this service`);
  if (value.privileged !== undefined) {
    if (typeof value.privileged !== 'boolean') ctx.error([...path, 'privileged'], `privileged must be true or false, got ${describe(value.privileged)}`);
    else if (value.privileged) {
      out.privileged = true;
      needs('privileged', '--allow privileged');
    }
  }
  if (value.network_mode !== undefined) {
    if (value.network_mode === 'host') {
      out.network_mode = 'host';
      needs('network_mode', '--allow host-network');
    } else if (value.network_mode !== 'bridge' && value.network_mode !== 'default') {
      ctx.error(
        [...path, 'network_mode'],
        `network_mode ${describe(value.network_mode)} is not supported: baton runs containers on the default bridge, or on the host's network with network_mode: host`,
      );
    }
  }
  if (value.pid !== undefined) {
    if (value.pid === 'host') {
      out.pid_mode = 'host';
      needs('pid', '--allow host-pid');
    } else ctx.error([...path, 'pid'], `pid ${describe(value.pid)} is not supported: only pid: host`);
  }
  for (const [key, field, how] of [
    ['cap_add', 'cap_add', '--allow cap-add'],
    ['devices', 'devices', '--allow devices'],
  ] as const) {
    const v = value[key];
    if (v === undefined || v === null) continue;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
      ctx.error([...path, key], `${key} must be a list of texts, got ${describe(v)}`);
      continue;
    }
    if (v.length === 0) continue;
    // compose writes devices as host[:container[:perms]], as baton does
    out[field] = key === 'cap_add' ? v.map((c: string) => c.toUpperCase().replace(/^CAP_/, '')) : v;
    needs(key, how);
  }
  if (value.user !== undefined && value.user !== null) {
    if (typeof value.user !== 'string' && typeof value.user !== 'number')
      ctx.error([...path, 'user'], `user must be a name or uid, got ${describe(value.user)}`);
    else out.user = String(value.user);
  }
  return out;
}

function translateService(service: string, value: unknown, s: ServiceCtx): (ComposeJob & { hasService: boolean; hasCheck: boolean }) | undefined {
  const { ctx, stack } = s;
  const path: Path = ['services', service];
  if (!isObj(value)) {
    ctx.error(path, `service ${service} must be a mapping with at least image, got ${describe(value)}`);
    return undefined;
  }
  ctx.keys(value, path, SERVICE_KEYS, SERVICE_UNSUPPORTED);
  const taskName = service.toLowerCase();
  const name = `${stack}-${taskName}`;
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(taskName)) ctx.error(path, `service name "${service}" must be letters, digits, '.', '_' or '-'`, true);
  else if (!JOB_NAME_RE.test(name))
    ctx.error(path, `job name "${name}" (stack-service) is longer than 63 characters: use a shorter stack or service name`, true);
  else if (taskName !== service) ctx.warn(path, `service ${service} becomes job ${name} (job names are lowercase)`, true);

  const task: Obj = { name: taskName.slice(0, 63), driver: 'docker' };
  if (value.image === undefined || value.image === null || value.image === '') {
    ctx.error(
      path,
      value.build !== undefined
        ? `service ${service} has build but no image: baton does not build; build and push the image, then set image`
        : `service ${service} has no image`,
      true,
    );
  } else {
    const image = text(ctx, value.image, [...path, 'image']);
    if (image) task.image = image;
  }

  // docker: baton sets the container's Cmd (command + args) and keeps the image's ENTRYPOINT
  const entrypoint = commandList(ctx, value.entrypoint, [...path, 'entrypoint']);
  const command = commandList(ctx, value.command, [...path, 'command']);
  if (entrypoint && entrypoint.length > 0) {
    task.command = entrypoint[0];
    task.args = [...entrypoint.slice(1), ...(command ?? [])];
    ctx.warn([...path, 'entrypoint'], 'baton runs the entrypoint as the container command: an image with its own ENTRYPOINT receives it as arguments', true);
  } else if (command && command.length > 0) {
    task.command = command[0];
    task.args = command.slice(1);
  }

  const env = environment(value, path, s);
  if (Object.keys(env).length) task.env = env;

  const resources = serviceResources(value, path, ctx);
  if (resources) task.resources = resources;

  if (value.stop_signal !== undefined) {
    const sig = text(ctx, value.stop_signal, [...path, 'stop_signal']);
    const norm = sig && (sig.toUpperCase().startsWith('SIG') ? sig.toUpperCase() : `SIG${sig.toUpperCase()}`);
    if (norm && (SIGNALS as readonly string[]).includes(norm)) task.kill_signal = norm;
    else if (norm) ctx.warn([...path, 'stop_signal'], `stop_signal ${sig} is not supported (baton sends one of ${SIGNALS.join(', ')}); SIGTERM is sent`);
  }
  if (value.stop_grace_period !== undefined) {
    const ms = unit(ctx, value.stop_grace_period, [...path, 'stop_grace_period'], parseComposeDuration);
    if (ms !== undefined) task.kill_timeout = formatMs(ms);
  }

  const checks = healthcheck(value.healthcheck, [...path, 'healthcheck'], ctx);
  if (checks) task.checks = checks;

  const ports = servicePorts(value.ports, [...path, 'ports'], ctx);
  if (ports.length) {
    task.ports = ports;
    task.service = { name, port: ports[0].name };
  }
  const mounts = serviceVolumes(service, value.volumes, [...path, 'volumes'], s);
  if (mounts.length) task.volumes = mounts;
  Object.assign(task, privilegeAsks(value, path, ctx));
  const taskSecrets = serviceSecrets(value.secrets, [...path, 'secrets'], ctx, s.secrets);
  if (taskSecrets.length) task.secrets = taskSecrets;

  const job: Obj = { name, type: 'service' };
  if (s.opts.namespace) job.namespace = s.opts.namespace;
  const deploy = deploySection(service, value, path, ctx);
  Object.assign(job, deploy.job);
  const restart = deploy.restart ?? serviceRestart(value.restart, [...path, 'restart'], ctx);
  if (restart) job.restart = restart;
  job.meta = { stack, service };
  job.tasks = [task];

  return {
    service,
    name,
    file: job,
    spec: undefined as unknown as JobSpec, // filled in after validation
    dependsOn: dependsOn(service, value.depends_on, [...path, 'depends_on'], s),
    hasService: ports.length > 0,
    hasCheck: checks !== undefined,
  };
}

function environment(value: Obj, path: Path, s: ServiceCtx): Record<string, string> {
  const { ctx } = s;
  const lookup = (n: string): string | undefined => s.env[n];
  const env: Record<string, string> = {};
  const ef = value.env_file;
  if (ef !== undefined && ef !== null) {
    const entries = Array.isArray(ef) ? ef : [ef];
    entries.forEach((e, i) => {
      const p = Array.isArray(ef) ? [...path, 'env_file', i] : [...path, 'env_file'];
      if (typeof e === 'string') Object.assign(env, readEnvFile(ctx, s.opts, e, p, true, lookup));
      else if (isObj(e) && typeof e.path === 'string') {
        ctx.keys(e, p, ['path', 'required', 'format']);
        if (e.format !== undefined && e.format !== 'raw')
          ctx.warn([...p, 'format'], `env_file format ${scalar(e.format)} is not supported; the file is read as KEY=value lines`, true);
        Object.assign(env, readEnvFile(ctx, s.opts, e.path, p, e.required !== false, lookup));
      } else ctx.error(p, `an env_file entry is a path or { path, required }, got ${describe(e)}`);
    });
  }
  const ev = value.environment;
  const p = [...path, 'environment'];
  if (Array.isArray(ev)) {
    ev.forEach((item, i) => {
      if (typeof item !== 'string') return ctx.error([...p, i], `an environment entry is KEY=value, got ${describe(item)}`);
      const eq = item.indexOf('=');
      if (eq === 0) return ctx.error([...p, i], `"${item}" has no variable name`);
      if (eq < 0) {
        // `- KEY` takes the value from the shell; left out when unset, as in compose
        const v = lookup(item);
        if (v !== undefined) env[item] = v;
        else ctx.warn([...p, i], `${item} takes its value from the shell, where it is not set: left out`);
      } else env[item.slice(0, eq)] = item.slice(eq + 1);
    });
  } else if (isObj(ev)) {
    for (const [k, v] of Object.entries(ev)) {
      if (v === null || v === undefined) {
        const sv = lookup(k);
        if (sv !== undefined) env[k] = sv;
        else ctx.warn([...p, k], `${k} takes its value from the shell, where it is not set: left out`);
      } else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') env[k] = String(v);
      else ctx.error([...p, k], `an environment value must be a text, number or boolean, got ${describe(v)}`);
    }
  } else if (ev !== undefined && ev !== null) ctx.error(p, `environment must be a list of KEY=value or a mapping, got ${describe(ev)}`);
  return env;
}

function serviceResources(value: Obj, path: Path, ctx: Context): Obj | undefined {
  const deploy = isObj(value.deploy) ? value.deploy : undefined;
  const res = deploy && isObj(deploy.resources) ? deploy.resources : undefined;
  const rpath = [...path, 'deploy', 'resources'];
  if (deploy?.resources !== undefined && !res) ctx.error(rpath, `resources must be a mapping with limits and reservations, got ${describe(deploy.resources)}`);
  const section = (which: 'limits' | 'reservations'): { cpu?: number; memory?: number } => {
    const sec = res?.[which];
    const p = [...rpath, which];
    if (sec === undefined || sec === null) return {};
    if (!isObj(sec)) {
      ctx.error(p, `${which} must be a mapping with cpus and memory, got ${describe(sec)}`);
      return {};
    }
    ctx.keys(sec, p, RESOURCE_KEYS, {
      pids: 'baton does not limit the number of processes',
      devices: 'baton does not hand out devices to compose services',
      generic_resources: 'baton does not schedule generic resources',
    });
    return {
      cpu: sec.cpus !== undefined ? unit(ctx, sec.cpus, [...p, 'cpus'], parseComposeCpus) : undefined,
      memory: sec.memory !== undefined ? unit(ctx, sec.memory, [...p, 'memory'], parseComposeBytes) : undefined,
    };
  };
  if (res) ctx.keys(res, rpath, ['limits', 'reservations']);
  const limits = section('limits');
  const reservations = section('reservations');
  const cpus = value.cpus !== undefined ? unit(ctx, value.cpus, [...path, 'cpus'], parseComposeCpus) : undefined;
  const memLimit = value.mem_limit !== undefined ? unit(ctx, value.mem_limit, [...path, 'mem_limit'], parseComposeBytes) : undefined;
  const memRes = value.mem_reservation !== undefined ? unit(ctx, value.mem_reservation, [...path, 'mem_reservation'], parseComposeBytes) : undefined;
  // cpu: compose's limit is a cap (cpu_limit) and its reservation the request (a weight), which is
  // the limit when there is no reservation (or a larger one). memory: baton reserves and limits
  // the same amount, the limit when given, else what is reserved
  // cpus: 0 is "no limit" to docker
  const cpuLimit = (limits.cpu ?? cpus) || undefined;
  const cpu = cpuLimit !== undefined ? Math.min(reservations.cpu ?? cpuLimit, cpuLimit) : reservations.cpu;
  const memory = limits.memory ?? memLimit ?? reservations.memory ?? memRes;
  if (cpu === undefined && memory === undefined) return undefined;
  const out: Obj = {};
  if (cpu !== undefined) out.cpu = `${cpu}m`;
  if (cpuLimit !== undefined) out.cpu_limit = `${cpuLimit}m`;
  if (memory !== undefined) out.memory = formatBytesExact(memory);
  return out;
}

function healthcheck(value: unknown, path: Path, ctx: Context): Obj[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObj(value)) {
    ctx.error(path, `healthcheck must be a mapping with test, got ${describe(value)}`);
    return undefined;
  }
  ctx.keys(value, path, HEALTHCHECK_KEYS, { start_interval: 'baton checks at the same interval during start_period' });
  if (value.disable === true) return undefined;
  if (value.disable !== undefined && typeof value.disable !== 'boolean')
    ctx.error([...path, 'disable'], `disable must be true or false, got ${describe(value.disable)}`);
  const t = value.test;
  let command: string | undefined;
  let args: string[] = [];
  const tp = [...path, 'test'];
  if (typeof t === 'string') {
    if (!t.trim()) ctx.error(tp, 'test must not be empty');
    [command, args] = ['/bin/sh', ['-c', t]];
  } else if (Array.isArray(t) && t.length > 0 && t.every((x) => typeof x === 'string' || typeof x === 'number')) {
    const [kind, ...rest] = t.map(String);
    if (kind === 'NONE') return undefined;
    if (kind === 'CMD' && rest.length > 0) [command, args] = [rest[0], rest.slice(1)];
    else if (kind === 'CMD-SHELL' && rest.length === 1) [command, args] = ['/bin/sh', ['-c', rest[0]]];
    else ctx.error(tp, 'test is ["CMD", cmd, args...], ["CMD-SHELL", "shell command"], ["NONE"] or a shell command as text');
  } else if (t === undefined) {
    ctx.error(tp, 'a healthcheck needs test (baton cannot use the HEALTHCHECK of the image); or set disable: true', true);
  } else ctx.error(tp, `test must be a list or a text, got ${describe(t)}`);
  if (!command) return undefined;
  const check: Obj = { name: 'healthcheck', type: 'command', command, args };
  // compose defaults: 30s interval and timeout, 3 retries, no start period
  const interval = value.interval !== undefined ? unit(ctx, value.interval, [...path, 'interval'], parseComposeDuration) : 30_000;
  const timeout = value.timeout !== undefined ? unit(ctx, value.timeout, [...path, 'timeout'], parseComposeDuration) : 30_000;
  if (interval !== undefined) check.interval = formatMs(interval);
  if (timeout !== undefined) check.timeout = formatMs(timeout);
  if (value.retries !== undefined) {
    const r = wholeNumber(ctx, value.retries, [...path, 'retries'], 1);
    if (r !== undefined) check.retries = r;
  } else check.retries = 3;
  if (value.start_period !== undefined) {
    const sp = unit(ctx, value.start_period, [...path, 'start_period'], parseComposeDuration);
    if (sp !== undefined) check.start_period = formatMs(sp);
  }
  return [check];
}

interface PortOut {
  name: string;
  static?: number;
  to: number;
}

function servicePorts(value: unknown, path: Path, ctx: Context): PortOut[] {
  const out: PortOut[] = [];
  if (value === undefined || value === null) return out;
  if (!Array.isArray(value)) {
    ctx.error(path, `ports must be a list, got ${describe(value)}`);
    return out;
  }
  const used = new Set<string>();
  const portName = (wanted: string | undefined, target: number): string => {
    let n = wanted && /^[a-z][a-z0-9_]{0,31}$/.test(wanted) ? wanted : `p${target}`;
    for (let i = 2; used.has(n); i++) n = `p${target}_${i}`;
    used.add(n);
    return n;
  };
  const portNumber = (v: unknown, p: Path, what: string): number | undefined => {
    const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) {
      ctx.error(p, `${what} must be a port number 1..65535, got ${describe(v)}`);
      return undefined;
    }
    return n;
  };
  value.forEach((item, i) => {
    const p = [...path, i];
    if (typeof item === 'number') {
      const to = portNumber(item, p, 'the port');
      if (to) out.push({ name: portName(undefined, to), to });
      return;
    }
    if (typeof item === 'string') {
      const m = /^(?:(?:\[([0-9a-fA-F:.]+)\]|(\d+\.\d+\.\d+\.\d+)):)?(?:([\d-]*):)?([\d-]+)(?:\/(tcp|udp|sctp))?$/.exec(item.trim());
      if (!m) return ctx.error(p, `"${item}" is not a port: write CONTAINER, HOST:CONTAINER or IP:HOST:CONTAINER (e.g. "8080:80")`);
      const [, ip6, ip4, host, target, proto] = m;
      if (proto && proto !== 'tcp') return ctx.warn(p, `${proto} ports are not supported (baton maps tcp ports): "${item}" is left out`);
      if (target.includes('-') || host?.includes('-')) return ctx.warn(p, `port ranges are not supported: "${item}" is left out; list each port`);
      if (ip6 || ip4) ctx.warn(p, `the host address ${ip6 ?? ip4} is ignored: baton publishes on every address of the node`);
      const to = portNumber(target, p, 'the container port');
      if (!to) return;
      if (host) {
        const st = portNumber(host, p, 'the host port');
        if (st) out.push({ name: portName(undefined, to), static: st, to });
      } else out.push({ name: portName(undefined, to), to });
      return;
    }
    if (isObj(item)) {
      ctx.keys(item, p, PORT_KEYS, { app_protocol: 'baton does not use it' });
      if (item.protocol !== undefined && item.protocol !== 'tcp')
        return ctx.warn([...p, 'protocol'], `${scalar(item.protocol)} ports are not supported (baton maps tcp ports): left out`);
      if (item.mode !== undefined && item.mode !== 'host' && item.mode !== 'ingress') ctx.error([...p, 'mode'], 'mode is host or ingress');
      if (item.mode === 'ingress') ctx.warn([...p, 'mode'], 'baton has no routing mesh: the port is published on the nodes that run the service (mode host)');
      if (item.host_ip !== undefined)
        ctx.warn([...p, 'host_ip'], `the host address ${scalar(item.host_ip)} is ignored: baton publishes on every address of the node`);
      const to =
        item.target === undefined
          ? (ctx.error(p, 'a port needs target (the container port)', false), undefined)
          : portNumber(item.target, [...p, 'target'], 'target');
      if (!to) return;
      if (typeof item.published === 'string' && item.published.includes('-'))
        return ctx.warn([...p, 'published'], 'port ranges are not supported: the port is left out');
      const st = item.published !== undefined ? portNumber(item.published, [...p, 'published'], 'published') : undefined;
      if (item.published !== undefined && st === undefined) return;
      out.push({ name: portName(typeof item.name === 'string' ? item.name : undefined, to), ...(st ? { static: st } : {}), to });
      return;
    }
    ctx.error(p, `a port is a text like "8080:80" or a mapping with target, got ${describe(item)}`);
  });
  return out;
}

function serviceVolumes(service: string, value: unknown, path: Path, s: ServiceCtx): Obj[] {
  const { ctx, opts } = s;
  const out: Obj[] = [];
  if (value === undefined || value === null) return out;
  if (!Array.isArray(value)) {
    ctx.error(path, `volumes must be a list, got ${describe(value)}`);
    return out;
  }
  const mount = (p: Path, type: string, source: string | undefined, target: string, readOnly: boolean): void => {
    if (type === 'tmpfs') return ctx.warn(p, `tmpfs mounts are not supported: ${target} is left out`);
    if (type !== 'bind' && type !== 'volume') return ctx.warn(p, `${type} mounts are not supported: ${target} is left out`);
    if (!source) return ctx.warn(p, `anonymous volumes are not supported: ${target} is left out (name a volume, or bind a host path)`);
    if (type === 'bind') {
      let abs = source;
      if (source.startsWith('~/') || source === '~') abs = join(opts.home ?? '~', source.slice(1));
      else if (!isAbsolute(source)) abs = resolve(opts.dir ?? '.', source);
      const volume = volumeNameForPath(abs);
      ctx.warn(p, `bind mount ${abs} becomes host volume "${volume}": agents that should run ${service} must offer it (baton agent --volume ${volume}=${abs})`);
      out.push({ volume, destination: target, ...(readOnly ? { read_only: true } : {}) });
      return;
    }
    const top = s.volumes.get(source);
    if (!top)
      return ctx.error(
        p,
        `volume "${source}" is not declared under the top-level volumes${s.volumes.size ? ` (declared: ${[...s.volumes.keys()].join(', ')})` : ''}`,
      );
    ctx.warn(
      ['volumes', source],
      `named volume ${source} becomes host volume "${top.name}": agents must offer it (baton agent --volume ${top.name}=/path/on/node); its data stays on that node`,
      true,
      `volume:${top.name}`,
    );
    out.push({ volume: top.name, destination: target, ...(readOnly ? { read_only: true } : {}) });
  };
  value.forEach((item, i) => {
    const p = [...path, i];
    if (typeof item === 'string') {
      const parts = item.split(':');
      if (parts.length === 1) return mount(p, 'volume', undefined, parts[0], false);
      if (parts.length > 3 || parts.some((x) => x === '')) return ctx.error(p, `"${item}" is not a volume: write SOURCE:TARGET[:ro]`);
      const [src, target, mode = ''] = parts;
      const modes = mode ? mode.split(',') : [];
      for (const m of modes) {
        if (!['ro', 'rw', 'z', 'Z', 'cached', 'delegated', 'consistent', 'nocopy'].includes(m))
          return ctx.error(p, `"${m}" is not a volume mode: use ro or rw`);
        if (m !== 'ro' && m !== 'rw') ctx.warn(p, `volume mode ${m} is ignored`);
      }
      const bind = src.startsWith('/') || src.startsWith('.') || src.startsWith('~');
      return mount(p, bind ? 'bind' : 'volume', src, target, modes.includes('ro'));
    }
    if (isObj(item)) {
      ctx.keys(item, p, VOLUME_KEYS, {
        bind: 'bind options (propagation, create_host_path, selinux) are not supported',
        volume: 'volume options (nocopy, subpath) are not supported',
        tmpfs: 'tmpfs mounts are not supported',
        consistency: 'it has no effect on Linux',
        image: 'image mounts are not supported',
      });
      const type = item.type === undefined ? 'volume' : text(ctx, item.type, [...p, 'type']);
      const target = item.target === undefined ? undefined : text(ctx, item.target, [...p, 'target']);
      if (!target) return ctx.error(p, 'a volume needs target (where it appears in the container)');
      const source = item.source === undefined ? undefined : text(ctx, item.source, [...p, 'source']);
      if (item.read_only !== undefined && typeof item.read_only !== 'boolean') return ctx.error([...p, 'read_only'], 'read_only must be true or false');
      if (type) mount(p, type, source, target, item.read_only === true);
      return;
    }
    ctx.error(p, `a volume is a text like "./data:/data:ro" or a mapping with type, source and target, got ${describe(item)}`);
  });
  return out;
}

function serviceRestart(value: unknown, path: Path, ctx: Context): Obj | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    ctx.error(path, `restart is "no", "always", "on-failure[:N]" or "unless-stopped", got ${describe(value)}`);
    return undefined;
  }
  if (value === 'no') return { attempts: 0, mode: 'fail' };
  // baton keeps restarting after a pause (mode delay) rather than giving up: the nearest to "always"
  if (value === 'always' || value === 'unless-stopped') return { mode: 'delay' };
  const m = /^on-failure(?::(\d+))?$/.exec(value);
  if (m) return m[1] !== undefined ? { attempts: Number(m[1]), mode: 'fail' } : { mode: 'delay' };
  ctx.error(path, `restart is "no", "always", "on-failure[:N]" or "unless-stopped", got "${value}"`);
  return undefined;
}

interface DeployOut {
  job: Obj;
  restart?: Obj;
}

const ARCH: Record<string, string> = { x86_64: 'x64', amd64: 'x64', aarch64: 'arm64', arm64: 'arm64', armv7l: 'arm', arm: 'arm' };

function deploySection(service: string, value: Obj, path: Path, ctx: Context): DeployOut {
  const out: DeployOut = { job: {} };
  const dp = [...path, 'deploy'];
  const d = value.deploy;
  let count: number | undefined;
  if (value.scale !== undefined) count = wholeNumber(ctx, value.scale, [...path, 'scale'], 0);
  if (d === undefined || d === null) {
    if (count !== undefined) out.job.count = count;
    return out;
  }
  if (!isObj(d)) {
    ctx.error(dp, `deploy must be a mapping, got ${describe(d)}`);
    return out;
  }
  ctx.keys(d, dp, DEPLOY_KEYS, DEPLOY_UNSUPPORTED);
  if (d.replicas !== undefined) {
    const r = wholeNumber(ctx, d.replicas, [...dp, 'replicas'], 0);
    if (r !== undefined && count !== undefined && r !== count) ctx.error([...dp, 'replicas'], `deploy.replicas (${r}) and scale (${count}) disagree: keep one`);
    count = r ?? count;
  }
  const mode = d.mode ?? 'replicated';
  if (mode === 'global') {
    out.job.type = 'system';
    if (count !== undefined) ctx.error([...dp, 'replicas'], 'replicas cannot be used with mode: global (one per node)');
  } else if (mode === 'replicated-job') {
    out.job.type = 'batch';
    ctx.warn([...dp, 'mode'], `${service} runs as a batch job: replicas run to completion once`);
  } else if (mode === 'global-job') {
    out.job.type = 'batch';
    ctx.warn([...dp, 'mode'], 'global-job is not supported (a job on every node): it runs as a batch job of one run');
  } else if (mode !== 'replicated') ctx.error([...dp, 'mode'], `mode is replicated, global, replicated-job or global-job, got ${describe(mode)}`);
  if (count !== undefined && mode !== 'global') out.job.count = count;

  const rp = d.restart_policy;
  if (rp !== undefined && rp !== null) {
    const p = [...dp, 'restart_policy'];
    if (!isObj(rp)) ctx.error(p, `restart_policy must be a mapping, got ${describe(rp)}`);
    else {
      ctx.keys(rp, p, RESTART_POLICY_KEYS);
      const r: Obj = {};
      const cond = rp.condition ?? 'any';
      if (cond === 'none') r.attempts = 0;
      else if (cond !== 'any' && cond !== 'on-failure') ctx.error([...p, 'condition'], `condition is none, on-failure or any, got ${describe(cond)}`);
      if (cond !== 'none') {
        if (rp.max_attempts !== undefined) {
          const n = wholeNumber(ctx, rp.max_attempts, [...p, 'max_attempts'], 0);
          if (n !== undefined) r.attempts = Math.min(n, 1000);
          r.mode = 'fail';
        } else r.mode = 'delay'; // no limit in compose: keep trying after a pause
      } else r.mode = 'fail';
      if (rp.delay !== undefined) {
        const ms = unit(ctx, rp.delay, [...p, 'delay'], parseComposeDuration);
        if (ms !== undefined) r.delay = formatMs(ms);
      }
      if (rp.window !== undefined) {
        const ms = unit(ctx, rp.window, [...p, 'window'], parseComposeDuration);
        if (ms !== undefined && ms > 0) r.interval = formatMs(ms);
      }
      out.restart = r;
    }
  }

  const uc = d.update_config;
  if (uc !== undefined && uc !== null) {
    const p = [...dp, 'update_config'];
    if (!isObj(uc)) ctx.error(p, `update_config must be a mapping, got ${describe(uc)}`);
    else {
      ctx.keys(uc, p, UPDATE_CONFIG_KEYS, {
        delay: 'baton moves to the next batch once the new allocs are healthy for min_healthy_time (monitor)',
        max_failure_ratio: 'any failed alloc fails the update',
        order: 'baton replaces allocs by its own rolling update; the order is not configurable',
      });
      const u: Obj = {};
      if (uc.parallelism !== undefined) {
        const n = wholeNumber(ctx, uc.parallelism, [...p, 'parallelism'], 0);
        // 0 means all at once in swarm
        if (n !== undefined) u.max_parallel = n === 0 ? Math.max(1, count ?? 1) : n;
      }
      if (uc.monitor !== undefined) {
        const ms = unit(ctx, uc.monitor, [...p, 'monitor'], parseComposeDuration);
        if (ms !== undefined) u.min_healthy_time = formatMs(ms);
      }
      if (uc.failure_action !== undefined) {
        if (uc.failure_action === 'rollback') u.auto_revert = true;
        else if (uc.failure_action === 'continue')
          ctx.warn([...p, 'failure_action'], 'failure_action continue is not supported: a failed update stops (pause)');
        else if (uc.failure_action !== 'pause')
          ctx.error([...p, 'failure_action'], `failure_action is pause, continue or rollback, got ${describe(uc.failure_action)}`);
      }
      out.job.update = u;
    }
  }

  const pl = d.placement;
  if (pl !== undefined && pl !== null) {
    const p = [...dp, 'placement'];
    if (!isObj(pl)) ctx.error(p, `placement must be a mapping, got ${describe(pl)}`);
    else {
      ctx.keys(pl, p, PLACEMENT_KEYS);
      const constraints: Obj[] = [];
      if (pl.constraints !== undefined) {
        if (!Array.isArray(pl.constraints))
          ctx.error([...p, 'constraints'], `constraints must be a list like ["node.labels.zone == a"], got ${describe(pl.constraints)}`);
        else
          pl.constraints.forEach((c, i) => {
            const cp = [...p, 'constraints', i];
            if (typeof c !== 'string') return ctx.error(cp, `a constraint is a text like "node.labels.zone == a", got ${describe(c)}`);
            const m = /^\s*([A-Za-z0-9_.-]+)\s*(==|!=)\s*(.*?)\s*$/.exec(c);
            if (!m || !m[3]) return ctx.error(cp, `"${c}" is not a constraint: write ATTRIBUTE == VALUE or ATTRIBUTE != VALUE`);
            const [, attr, op, val] = m;
            const operator = op === '==' ? '=' : '!=';
            let attribute: string | undefined;
            let v = val;
            if (attr.startsWith('node.labels.') && attr.length > 12) attribute = `\${label.${attr.slice(12)}}`;
            else if (attr === 'node.hostname') attribute = '${node.name}';
            else if (attr === 'node.id') attribute = '${node.id}';
            else if (attr === 'node.platform.os') attribute = '${attr.os.name}';
            else if (attr === 'node.platform.arch') {
              attribute = '${attr.os.arch}';
              v = ARCH[val] ?? val; // docker says x86_64, node says x64
            } else if (attr === 'node.role') return ctx.warn(cp, 'node.role is not supported: baton agents have no manager or worker role');
            else if (attr.startsWith('engine.labels.')) return ctx.warn(cp, `${attr} is not supported: give the agent a label (--label) and use node.labels`);
            else
              return ctx.warn(
                cp,
                `${attr} is not a constraint baton knows (node.labels.*, node.hostname, node.id, node.platform.os, node.platform.arch): ignored`,
              );
            constraints.push({ attribute, operator, value: v });
          });
      }
      if (pl.max_replicas_per_node !== undefined) {
        const n = wholeNumber(ctx, pl.max_replicas_per_node, [...p, 'max_replicas_per_node'], 1);
        if (n === 1) constraints.push({ operator: 'distinct_hosts' });
        else if (n !== undefined) ctx.warn([...p, 'max_replicas_per_node'], 'only max_replicas_per_node: 1 is supported (distinct hosts): ignored');
      }
      if (constraints.length) out.job.constraints = constraints;
      if (pl.preferences !== undefined) {
        if (!Array.isArray(pl.preferences))
          ctx.error([...p, 'preferences'], `preferences must be a list like [{ spread: node.labels.zone }], got ${describe(pl.preferences)}`);
        else {
          const spread: Obj[] = [];
          pl.preferences.forEach((pref, i) => {
            const pp = [...p, 'preferences', i];
            if (!isObj(pref) || typeof pref.spread !== 'string') return ctx.error(pp, 'a preference is { spread: node.labels.NAME }');
            if (!pref.spread.startsWith('node.labels.')) return ctx.warn(pp, `spread over ${pref.spread} is not supported, only node.labels.*: ignored`);
            spread.push({ attribute: `\${label.${pref.spread.slice(12)}}` });
          });
          if (spread.length) out.job.spread = spread;
        }
      }
    }
  }
  return out;
}

function dependsOn(service: string, value: unknown, path: Path, s: ServiceCtx): ComposeDependency[] {
  const { ctx } = s;
  const out: ComposeDependency[] = [];
  if (value === undefined || value === null) return out;
  const add = (dep: unknown, condition: unknown, p: Path): void => {
    if (typeof dep !== 'string') return ctx.error(p, `a dependency is a service name, got ${describe(dep)}`);
    if (dep === service) return ctx.error(p, `${service} depends on itself`);
    if (condition !== 'service_started' && condition !== 'service_healthy' && condition !== 'service_completed_successfully') {
      return ctx.error([...p, 'condition'], `condition is service_started, service_healthy or service_completed_successfully, got ${describe(condition)}`);
    }
    if (condition === 'service_completed_successfully')
      ctx.warn([...p, 'condition'], `baton cannot wait for ${dep} to complete: ${service} is submitted once ${dep} is running`, true);
    out.push({ service: dep, job: `${s.stack}-${dep.toLowerCase()}`, condition });
  };
  if (Array.isArray(value)) value.forEach((d, i) => add(d, 'service_started', [...path, i]));
  else if (isObj(value)) {
    for (const [dep, def] of Object.entries(value)) {
      const p = [...path, dep];
      if (def !== null && !isObj(def)) {
        ctx.error(p, `a dependency is a mapping with condition, got ${describe(def)}`);
        continue;
      }
      if (def) {
        ctx.keys(def, p, DEPENDS_ON_KEYS, { restart: `baton does not restart ${service} when ${dep} is updated` });
        if (def.required === false) ctx.warn([...p, 'required'], 'required: false is ignored: the dependency is deployed with the stack', true);
      }
      add(dep, def?.condition ?? 'service_started', p);
    }
  } else ctx.error(path, `depends_on must be a list of services or a mapping, got ${describe(value)}`);
  return out;
}

/** Jobs after the jobs they depend on; file order otherwise. A missing service or a cycle is an error. */
function dependencyOrder<T extends ComposeJob>(jobs: T[], ctx: Context): T[] {
  const by = new Map(jobs.map((j) => [j.service, j]));
  for (const j of jobs) {
    for (const d of j.dependsOn) {
      if (!by.has(d.service)) {
        const p = ['services', j.service, 'depends_on'];
        ctx.error(p, `${j.service} depends on ${d.service}, which is not a service of this file (services: ${[...by.keys()].join(', ')})`);
      }
    }
  }
  const out: T[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (j: T, trail: string[]): void => {
    const st = state.get(j.service);
    if (st === 'done') return;
    if (st === 'visiting') {
      const cycle = [...trail.slice(trail.indexOf(j.service)), j.service];
      ctx.error(['services', j.service, 'depends_on'], `depends_on has a cycle: ${cycle.join(' → ')}`);
      return;
    }
    state.set(j.service, 'visiting');
    for (const d of j.dependsOn) {
      const dep = by.get(d.service);
      if (dep) visit(dep, [...trail, j.service]);
    }
    state.set(j.service, 'done');
    out.push(j);
  };
  for (const j of jobs) visit(j, []);
  return out;
}

/** a value from the file in a message: a string as it is, anything else as JSON (never `[object Object]`) */
function scalar(v: unknown): string {
  return typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
}

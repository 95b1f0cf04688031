/**
 * Compose `secrets:` onto baton secrets. A top-level secret with `file:` is
 * put by the CLI at deploy as baton secret `<stack>-<name>` (one key,
 * `value`, read from the file); `external: true` names a secret already put
 * (`name:` or the compose name). A service's `secrets: [x]` reads it at
 * /run/secrets/x in its container, as compose users expect.
 */
import { isAbsolute, join, resolve } from 'node:path';
import { SECRET_NAME_RE } from '../secrets/names.js';

type Path = Array<string | number>;
type Obj = Record<string, unknown>;

export interface SecretsCtx {
  error(path: Path, message: string, key?: boolean): void;
  keys(value: Obj, path: Path, known: readonly string[], unsupported?: Record<string, string>): void;
}

export interface TopSecret {
  /** the baton secret's name in the stack's namespace */
  baton: string;
  /** the file the CLI puts it from at deploy (absolute); absent: external */
  file?: string;
}

/** what a deploy must put before it submits: baton secret name and the file it comes from */
export interface ComposeSecretFile {
  compose: string;
  name: string;
  file: string;
}

/** the key a compose file secret is stored under */
export const COMPOSE_SECRET_KEY = 'value';

const TOP_KEYS = ['file', 'external', 'name', 'environment', 'content'];
const TOP_UNSUPPORTED: Record<string, string> = {
  environment: 'put the value with baton secret put (--stdin) and mark it external: true',
  content: 'put the value with baton secret put and mark it external: true',
};
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

export function topSecrets(value: unknown, ctx: SecretsCtx, stack: string, dir: string | undefined): Map<string, TopSecret> {
  const out = new Map<string, TopSecret>();
  if (value === undefined || value === null) return out;
  if (!isObj(value)) {
    ctx.error(['secrets'], 'secrets must be a mapping of secret names, e.g. secrets: { db: { file: ./db.txt } }');
    return out;
  }
  for (const [name, def] of Object.entries(value)) {
    const path = ['secrets', name];
    if (!isObj(def)) {
      ctx.error(path, `secret ${name} must be a mapping with file: or external: true`);
      continue;
    }
    ctx.keys(def, path, TOP_KEYS, TOP_UNSUPPORTED);
    if (def.external === true || (isObj(def.external) && def.external !== null)) {
      const baton = typeof def.name === 'string' ? def.name : name;
      if (!SECRET_NAME_RE.test(baton))
        ctx.error(path, `secret ${name}: "${baton}" is not a baton secret name (lowercase letters, digits, "-", "_", "."): give name:`);
      else out.set(name, { baton });
      continue;
    }
    if (typeof def.file !== 'string' || def.file === '') {
      if (def.environment === undefined && def.content === undefined)
        ctx.error(path, `secret ${name} needs file: PATH (put at deploy) or external: true (put with baton secret put)`);
      continue;
    }
    const baton = `${stack}-${name.toLowerCase()}`.slice(0, 63);
    if (!SECRET_NAME_RE.test(baton)) {
      ctx.error(path, `secret ${name} becomes baton secret "${baton}", which is not a valid name: use letters, digits, "-", "_" and "."`, true);
      continue;
    }
    out.set(name, { baton, file: isAbsolute(def.file) ? def.file : resolve(join(dir ?? '.', def.file)) });
  }
  return out;
}

/** a service's `secrets:` (short or long syntax) as task secrets of its job file */
export function serviceSecrets(value: unknown, path: Path, ctx: SecretsCtx, top: Map<string, TopSecret>): Obj[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    ctx.error(path, 'secrets must be a list of secret names, e.g. secrets: [db]');
    return [];
  }
  const out: Obj[] = [];
  value.forEach((item, i) => {
    const at = [...path, i];
    let source: unknown;
    let target: unknown;
    if (typeof item === 'string') source = item;
    else if (isObj(item)) {
      ctx.keys(item, at, ['source', 'target', 'uid', 'gid', 'mode'], {
        uid: "files are owned by the container's user",
        gid: "files are owned by the container's user",
        mode: 'secret files are mode 0400',
      });
      source = item.source;
      target = item.target;
    }
    if (typeof source !== 'string' || source === '') {
      ctx.error(at, 'a service secret is a name, or { source, target? }');
      return;
    }
    const def = top.get(source);
    if (!def) {
      ctx.error(at, `secret ${source} is not declared under the top-level secrets`);
      return;
    }
    const t = typeof target === 'string' && target !== '' ? target : source;
    const file = t.startsWith('/') ? t : `/run/secrets/${t}`;
    out.push({ name: def.baton, file, ...(def.file ? { key: COMPOSE_SECRET_KEY } : {}) });
  });
  return out;
}

/** the file-backed secrets the services use: the CLI puts these before it submits */
export function secretFiles(top: Map<string, TopSecret>, used: Set<string>): ComposeSecretFile[] {
  return [...top.entries()].filter(([, d]) => d.file && used.has(d.baton)).map(([compose, d]) => ({ compose, name: d.baton, file: d.file! }));
}

/**
 * A task's secrets on its node: fetched for its alloc only, written as
 * `<taskDir>/secrets/<name>/<key>` (mode 0400) on a tmpfs mounted there, so
 * values never touch the node's disk; env vars where the task asks. Values are
 * never logged, put in events or in the alloc's persisted state.
 */
import { execFile } from 'node:child_process';
import { chmod, chown, lstat, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { lstatSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import type { AllocSecretsResponse, TaskSecretSpec } from '../api/types.js';
import type { TaskVolume } from '../drivers/driver.js';
import { writeTaskFile } from './task-files.js';

const run = promisify(execFile);

export const SECRETS_DIR = 'secrets';
/** plenty for keys and certificates; a tmpfs only uses what it holds */
const TMPFS_SIZE = '4m';

export class MissingSecretError extends Error {}

/** one fetch per version stamp, shared by the alloc's tasks */
export class AllocSecretsCache {
  private fetched: { stamp: string | undefined; answer: Promise<AllocSecretsResponse> } | undefined;

  constructor(private readonly fetch: () => Promise<AllocSecretsResponse>) {}

  get(stamp: string | undefined): Promise<AllocSecretsResponse> {
    if (!this.fetched || this.fetched.stamp !== stamp) {
      const answer = this.fetch();
      this.fetched = { stamp, answer };
      // a failed fetch is tried again next time, not kept
      answer.catch(() => {
        if (this.fetched?.answer === answer) this.fetched = undefined;
      });
    }
    return this.fetched.answer;
  }
}

export interface PreparedSecrets {
  /** env var → value, for the task's start only (never persisted) */
  env: Record<string, string>;
  /** docker: the secrets dir at /secrets and /run/secrets, and `file:` binds */
  volumes: TaskVolume[];
}

/** whether dir is the root of a mount (its device differs from its parent's) */
async function isMountPoint(dir: string): Promise<boolean> {
  const [a, b] = await Promise.all([stat(dir), stat(dirname(dir))]);
  return a.dev !== b.dev;
}

/**
 * The task's secrets dir, a tmpfs when the agent may mount one (root on
 * Linux); else a 0700 directory, said once in the log. Never a link.
 */
export async function ensureSecretsDir(taskDir: string, logger: Logger): Promise<string> {
  const dir = join(taskDir, SECRETS_DIR);
  const st = await lstat(dir).catch(() => undefined);
  if (st && !st.isDirectory()) await rm(dir, { force: true }); // a link or file the task left: never followed
  if (!st || !st.isDirectory()) await mkdir(dir, { mode: 0o700 });
  if (await isMountPoint(dir)) return dir;
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_SIZE},mode=0700,nosuid,nodev,noexec`, 'tmpfs', dir]);
  } catch (err) {
    logger.warn(
      { dir, err: (err as Error).message.split('\n')[0] },
      'cannot mount a tmpfs for secrets (the agent is not root?): they are written to a 0700 directory on disk',
    );
  }
  await chmod(dir, 0o700);
  return dir;
}

/** the values a task names, or MissingSecretError naming what to put */
export function pickSecrets(namespace: string, refs: TaskSecretSpec[], answer: AllocSecretsResponse): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const ref of refs) {
    const s = answer.secrets.find((x) => x.name === ref.name);
    if (!s)
      throw new MissingSecretError(
        `secret ${namespace}/${ref.name} not found: create it with baton secret put ${namespace}/${ref.name} --from-file KEY=PATH (or KEY=VALUE)`,
      );
    for (const [env, key] of Object.entries(ref.env ?? {})) {
      if (!Object.hasOwn(s.data, key))
        throw new MissingSecretError(`secret ${namespace}/${ref.name} has no key "${key}" (env ${env}); its keys: ${Object.keys(s.data).join(', ')}`);
    }
    if (ref.file !== undefined) {
      const key = fileKey(ref, s.data);
      if (key === undefined)
        throw new MissingSecretError(`secret ${namespace}/${ref.name}: say which key ${ref.file} shows (key:), it has ${Object.keys(s.data).join(', ')}`);
      if (!Object.hasOwn(s.data, key)) throw new MissingSecretError(`secret ${namespace}/${ref.name} has no key "${key}" for ${ref.file}`);
    }
    out.set(ref.name, s.data);
  }
  return out;
}

function fileKey(ref: TaskSecretSpec, data: Record<string, string>): string | undefined {
  if (ref.key !== undefined) return ref.key;
  const keys = Object.keys(data);
  return keys.length === 1 ? keys[0] : undefined;
}

/**
 * Writes every named secret's keys into the secrets dir, replacing what an
 * earlier version left, owned by whoever owns the dir (the exec driver hands
 * it to the task's user).
 */
export async function writeSecrets(dir: string, values: Map<string, Record<string, string>>): Promise<void> {
  const st = await lstat(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory: refusing to write secrets`);
  const owner = { uid: st.uid, gid: st.gid };
  for (const [name, data] of values) {
    const sub = join(dir, name);
    const s = await lstat(sub).catch(() => undefined);
    if (s && !s.isDirectory()) await rm(sub, { force: true });
    if (!s || !s.isDirectory()) await mkdir(sub, { mode: 0o700 });
    await chown(sub, owner.uid, owner.gid);
    // keys of an earlier version that are gone now
    for (const old of await readdir(sub)) if (!Object.hasOwn(data, old)) await rm(join(sub, old), { force: true });
    for (const [key, value] of Object.entries(data)) await writeTaskFile(sub, key, value, { mode: 0o400, owner });
  }
}

/** the env vars and docker mounts of a task's secrets */
export function secretsForStart(dir: string, refs: TaskSecretSpec[], values: Map<string, Record<string, string>>, docker: boolean): PreparedSecrets {
  const env: Record<string, string> = {};
  const volumes: TaskVolume[] = [];
  if (docker) {
    volumes.push({ name: 'secrets', hostPath: dir, destination: '/secrets', readOnly: true });
  }
  for (const ref of refs) {
    const data = values.get(ref.name)!;
    for (const [name, key] of Object.entries(ref.env ?? {})) env[name] = data[key];
    if (docker && ref.file !== undefined) {
      volumes.push({ name: `secret-${ref.name}`, hostPath: join(dir, ref.name, fileKey(ref, data)!), destination: ref.file, readOnly: true });
    }
  }
  return { env, volumes };
}

/** hands the secrets dir to the task's user (the exec driver calls this when it drops root) */
export async function chownSecrets(taskDir: string, uid: number, gid: number): Promise<void> {
  const dir = join(taskDir, SECRETS_DIR);
  // on this thread: asked for every task start, and most tasks have no secrets
  const st = lstatQuiet(dir);
  if (!st?.isDirectory()) return;
  await chown(dir, uid, gid);
  for (const name of await readdir(dir)) {
    const sub = join(dir, name);
    const s = await lstat(sub);
    if (!s.isDirectory()) continue;
    await chown(sub, uid, gid);
    for (const f of await readdir(sub)) {
      const p = join(sub, f);
      if ((await lstat(p)).isFile()) await chown(p, uid, gid);
    }
  }
}

function lstatQuiet(path: string): Stats | undefined {
  try {
    return lstatSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/** unmounts the secrets tmpfs of a task dir (before the dir is removed); the values go with it */
export async function releaseSecrets(taskDir: string): Promise<void> {
  const dir = join(taskDir, SECRETS_DIR);
  const st = lstatQuiet(dir);
  if (!st?.isDirectory()) return;
  if (await isMountPoint(dir).catch(() => false)) await run('umount', ['-l', dir]).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}

/**
 * What changed between two stamps ("db@3,api@1"): the names with a new
 * version. A deleted secret (version 0) is not a change running tasks act on:
 * they keep their files, and a later start says it is missing.
 */
export function changedSecrets(before: string | undefined, after: string | undefined): Set<string> {
  const parse = (s: string | undefined): Map<string, string> =>
    new Map(
      (s ?? '')
        .split(',')
        .filter(Boolean)
        .map((p) => p.split('@') as [string, string]),
    );
  const a = parse(before);
  const out = new Set<string>();
  for (const [n, v] of parse(after)) if (a.get(n) !== v && v !== '0') out.add(n);
  return out;
}

/**
 * `baton secret put|ls|rm`: secrets of a namespace, encrypted at rest on the
 * server and readable only by the tasks that name them. Nothing here ever
 * prints a value: put answers with the version and the key names.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { SecretInfo } from '../../api/types.js';
import { SECRET_KEY_HINT, SECRET_KEY_RE, SECRET_NAME_HINT, SECRET_NAME_RE } from '../../secrets/names.js';
import { clientFor, globalOptions } from '../config.js';
import { age, CliError, printJson, printTable } from '../output.js';

/** "team-a/db" → namespace and name; a bare name is in "default" */
export function parseSecretRef(ref: string): { namespace: string; name: string } {
  const parts = ref.split('/');
  if (parts.length > 2 || parts.some((p) => p === '')) throw new CliError(`"${ref}" is not NAMESPACE/NAME (e.g. team-a/db)`);
  const [namespace, name] = parts.length === 2 ? parts : ['default', parts[0]];
  if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(namespace)) throw new CliError(`"${namespace}" is not a namespace: lowercase letters, digits, "-" and "_"`);
  if (!SECRET_NAME_RE.test(name)) throw new CliError(`"${name}": ${SECRET_NAME_HINT}`);
  return { namespace, name };
}

function checkKey(key: string, where: string): string {
  if (!SECRET_KEY_RE.test(key)) throw new CliError(`${where}: "${key}": ${SECRET_KEY_HINT}`);
  return key;
}

/** KEY=VALUE pairs, --from-file KEY=PATH and one --stdin KEY, as one data object; a key given twice is an error */
export async function collectData(
  pairs: string[],
  files: string[],
  stdinKey: string | undefined,
  io: { readFile: (path: string) => Promise<string>; readStdin: () => Promise<string> } = { readFile: (p) => readFile(p, 'utf8'), readStdin },
): Promise<Record<string, string>> {
  const data: Record<string, string> = {};
  const add = (key: string, value: string, where: string): void => {
    checkKey(key, where);
    if (Object.hasOwn(data, key)) throw new CliError(`key "${key}" is given twice`);
    data[key] = value;
  };
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0)
      throw new CliError(`"${p.split('=')[0]}..." is not KEY=VALUE (use --from-file KEY=PATH or --stdin KEY to keep the value out of ps and shell history)`);
    add(p.slice(0, i), p.slice(i + 1), 'KEY=VALUE');
  }
  for (const f of files) {
    const i = f.indexOf('=');
    if (i <= 0 || i === f.length - 1) throw new CliError(`--from-file "${f}" is not KEY=PATH (e.g. --from-file password=./db-password.txt)`);
    const path = f.slice(i + 1);
    let value: string;
    try {
      value = await io.readFile(path);
    } catch (err) {
      throw new CliError(`--from-file ${f.slice(0, i)}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    add(f.slice(0, i), value, '--from-file');
  }
  if (stdinKey !== undefined) add(stdinKey, await io.readStdin(), '--stdin');
  if (Object.keys(data).length === 0) throw new CliError('give at least one value: KEY=VALUE, --from-file KEY=PATH or --stdin KEY');
  return data;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function secretRows(list: SecretInfo[], now = Date.now()): string[][] {
  return list.map((s) => [`${s.namespace}/${s.name}`, String(s.version), s.keys.join(','), `${age(s.updatedAt, now)} ago`, `namespace ${s.namespace} tasks`]);
}

export function registerSecretCommand(program: Command): void {
  const secret = program
    .command('secret')
    .description('Put, list and remove secrets: encrypted on the server, given to the tasks that name them as files (never shown again)');
  secret
    .command('put')
    .description('Store a new version of a secret (submit role in its namespace); running tasks that use it restart or are signalled, by their change_mode')
    .argument('<ref>', 'NAMESPACE/NAME, e.g. team-a/db (a bare NAME is in "default")')
    .argument('[pairs...]', 'KEY=VALUE pairs: visible in ps and shell history, prefer --from-file or --stdin')
    .option('--from-file <key=path>', 'the value of KEY is the content of PATH (repeatable)', collect, [])
    .option('--stdin <key>', 'the value of KEY is read from standard input')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  baton secret put team-a/db --from-file url=./db-url.txt',
        '  printf %s "$API_KEY" | baton secret put team-a/api --stdin key',
        '  baton secret put team-a/db user=app --from-file password=./pw.txt',
        '',
        'A task uses it with secrets: [{ name: db }] and reads $BATON_SECRETS_DIR/db/<key>.',
      ].join('\n'),
    )
    .action(async (ref: string, pairs: string[], opts: { fromFile: string[]; stdin?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { namespace, name } = parseSecretRef(ref);
      const data = await collectData(pairs, opts.fromFile, opts.stdin);
      const info = await clientFor(cmd).putSecret(namespace, name, data);
      if (g.output === 'json') return printJson(info);
      process.stdout.write(`secret ${info.namespace}/${info.name} is now version ${info.version} (keys: ${info.keys.join(', ')})\n`);
    });
  secret
    .command('ls')
    .alias('list')
    .description('List secrets: name, version, key names, when changed, who may read (never values)')
    .option('-n, --namespace <ns>', 'the namespace, or "*" for every one the token may read', 'default')
    .action(async (opts: { namespace: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const list = await clientFor(cmd).listSecrets(opts.namespace);
      if (g.output === 'json') return printJson(list);
      printTable(['SECRET', 'VERSION', 'KEYS', 'UPDATED', 'READABLE BY'], secretRows(list));
    });
  secret
    .command('rm')
    .alias('delete')
    .description('Delete a secret; allocs that use it keep their files until they restart, then fail to start until it is put again')
    .argument('<ref>', 'NAMESPACE/NAME')
    .action(async (ref: string, _opts: unknown, cmd: Command) => {
      const g = globalOptions(cmd);
      const { namespace, name } = parseSecretRef(ref);
      const info = await clientFor(cmd).deleteSecret(namespace, name);
      if (g.output === 'json') return printJson(info);
      process.stdout.write(`deleted secret ${info.namespace}/${info.name} (was version ${info.version})\n`);
    });
}

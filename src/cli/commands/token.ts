/** `baton token create|ls|revoke`: scoped API tokens (admin only, see README "Tokens and roles"). */
import { Option, type Command } from 'commander';
import type { CreateTokenRequest, CreateTokenResponse, TokenInfo } from '../../api/types.js';
import type { BatonClient } from '../../client/client.js';
import { parseDuration, UnitError } from '../../spec/units.js';
import { clientFor, globalOptions } from '../config.js';
import { age, CliError, printJson, printTable, renderFields, shortId, until } from '../output.js';

const ROLES = ['read', 'submit', 'operator', 'admin'] as const;

/** the calls of POST/GET/DELETE /v1/tokens, through the client's HTTP layer */
export const tokenApi = (client: BatonClient) => ({
  create: (req: CreateTokenRequest) => client.http.request<CreateTokenResponse>('POST', '/v1/tokens', { body: req }),
  list: () => client.http.request<TokenInfo[]>('GET', '/v1/tokens'),
  revoke: (ref: string) => client.http.request<TokenInfo>('DELETE', `/v1/tokens/${encodeURIComponent(ref)}`),
});

/** `--ttl` is checked here so a typo is named before a token is made */
export function checkTtl(text: string): string {
  try {
    if (parseDuration(text) <= 0) throw new UnitError('zero');
  } catch {
    throw new CliError(`--ttl "${text}" is not a duration: write it like 12h, 30d or 8760h (a year)`);
  }
  return text.trim();
}

export function tokenRows(tokens: TokenInfo[], now = Date.now()): string[][] {
  return tokens.map((t) => [
    shortId(t.id),
    t.name,
    t.role,
    t.namespace,
    `${age(t.createdAt, now)} ago`,
    t.expiresAt === undefined ? 'never' : Date.parse(t.expiresAt) <= now ? 'expired' : until(t.expiresAt, now),
  ]);
}

export function registerTokenCommand(program: Command): void {
  const token = program.command('token').description('Create, list and revoke scoped API tokens (needs the admin token)');

  token
    .command('create')
    .description('Create an API token with a role and a namespace; its secret is printed once, the server keeps only a hash')
    .addOption(new Option('--role <role>', 'what the token may do').choices(ROLES).makeOptionMandatory())
    .requiredOption('--namespace <ns>', 'the namespace it may use, or "*" for all')
    .option('--name <name>', 'a name to tell it apart in `token ls` (default: <role>-<namespace>)')
    .option('--ttl <duration>', 'expire after this long, e.g. 30d (default: until revoked)')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  baton token create --role submit --namespace team-a --ttl 30d',
        "  baton token create --role admin --namespace '*' --name admin-2026 -o json",
      ].join('\n'),
    )
    .action(async (opts: { role: CreateTokenRequest['role']; namespace: string; name?: string; ttl?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const ttl = opts.ttl !== undefined ? checkTtl(opts.ttl) : undefined;
      const name = opts.name ?? `${opts.role}-${opts.namespace === '*' ? 'all' : opts.namespace}`;
      const res = await tokenApi(clientFor(cmd)).create({ name, role: opts.role, namespace: opts.namespace, ...(ttl ? { ttl } : {}) });
      if (g.output === 'json') return printJson(res);
      process.stdout.write(
        renderFields([
          ['ID', res.token.id],
          ['Name', res.token.name],
          ['Role', res.token.role],
          ['Namespace', res.token.namespace],
          ['Expires', res.token.expiresAt ?? 'never (until revoked)'],
          ['Secret', res.secret],
        ]) + '\n\nThe secret is shown this once: the server keeps only its hash. Use it with --token or BATON_TOKEN.\n',
      );
    });

  token
    .command('ls')
    .alias('list')
    .description('List API tokens: id, name, role, namespace, age and expiry (never secrets)')
    .action(async (_opts: unknown, cmd: Command) => {
      const g = globalOptions(cmd);
      const tokens = await tokenApi(clientFor(cmd)).list();
      if (g.output === 'json') return printJson(tokens);
      printTable(['ID', 'NAME', 'ROLE', 'NAMESPACE', 'CREATED', 'EXPIRES'], tokenRows(tokens));
    });

  token
    .command('revoke')
    .alias('rm')
    .description('Revoke an API token at once; the last admin token for all namespaces cannot be revoked')
    .argument('<token>', 'token id, unique id prefix, or unique name')
    .addHelpText(
      'after',
      [
        '',
        'Rotating the admin token:',
        "  baton token create --role admin --namespace '*' --name admin-new   # note its secret",
        '  BATON_TOKEN=<new secret> baton token revoke <old admin id>',
      ].join('\n'),
    )
    .action(async (ref: string, _opts: unknown, cmd: Command) => {
      const g = globalOptions(cmd);
      const t = await tokenApi(clientFor(cmd)).revoke(ref);
      if (g.output === 'json') return printJson(t);
      process.stdout.write(`revoked token ${shortId(t.id)} (${t.name}, ${t.role} in ${t.namespace})\n`);
    });
}

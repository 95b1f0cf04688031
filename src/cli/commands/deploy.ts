/**
 * `baton deploy -f docker-compose.yml`: a compose file becomes a stack of
 * service jobs (`<stack>-<service>`), submitted in dependency order. A service
 * that depends on another is submitted once that one is running (or healthy,
 * for condition service_healthy), so it starts with the addresses it needs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import type { BatonClient } from '../../client/client.js';
import { dependencyReadiness, type Readiness } from '../../compose/ready.js';
import type { ComposeIssue, ComposeJob, ComposeStack, DependencyCondition } from '../../compose/translate.js';
import { SpecError } from '../../spec/errors.js';
import { parseDuration, UnitError } from '../../spec/units.js';
import { clientFor, globalOptions } from '../config.js';
import { CliError, printJson, shortId } from '../output.js';
import { stackJobs } from './stack.js';

/** what `docker compose` looks for, in its order */
export const DEFAULT_COMPOSE_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

interface DeployOptions {
  file?: string;
  name?: string;
  namespace?: string;
  dryRun?: boolean;
  wait?: boolean;
  dependencies: boolean;
  prune?: boolean;
  timeout: string;
}

export function findComposeFile(cwd: string, given?: string): string {
  if (given) return given;
  const found = DEFAULT_COMPOSE_FILES.find((f) => existsSync(resolve(cwd, f)));
  if (!found) throw new CliError(`no compose file here (looked for ${DEFAULT_COMPOSE_FILES.join(', ')}); give one with -f`);
  return found;
}

/** `compose.yml:12: services.web.networks: ...` */
export function formatIssue(file: string, i: ComposeIssue): string {
  return `${file}${i.line !== undefined ? `:${i.line}` : ''}: ${i.path}: ${i.message}`;
}

/** The job files, one YAML document each, with a comment saying what waits for what. */
export function renderDryRun(result: ComposeStack): string {
  const docs = result.jobs.map((j) => {
    const after = j.dependsOn.map((d) => `${d.job} (${d.condition.replace('service_', '')})`);
    const head = `# service ${j.service} → job ${j.name}${after.length ? `, submitted after ${after.join(', ')}` : ''}\n`;
    return head + stringify(j.file, { lineWidth: 0 });
  });
  return `# stack ${result.stack}: ${result.jobs.length} job${result.jobs.length === 1 ? '' : 's'} in submission order\n${docs.join('---\n')}`;
}

function readSource(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CliError(`compose file ${file} does not exist`);
    if (code === 'EISDIR') throw new CliError(`${file} is a directory; give the path of a compose file`);
    throw new CliError(`cannot read compose file ${file}: ${(err as Error).message}`);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll a job until it is up by `condition`; say what it waits for whenever that changes. */
async function waitUntilUp(
  client: BatonClient,
  job: string,
  namespace: string,
  condition: DependencyCondition | 'service_healthy',
  deadline: number,
  log: (line: string) => void,
): Promise<void> {
  let last = '';
  for (;;) {
    let r: Readiness;
    try {
      r = dependencyReadiness(await client.getJob(job, namespace), condition);
    } catch (err) {
      r = { ready: false, detail: `cannot read the job: ${(err as Error).message}` };
    }
    if (r.ready) {
      log(`${job}: ${r.detail}`);
      return;
    }
    if (r.failed) throw new CliError(`${r.failed}; stopped waiting (${r.detail}). See baton job status ${job}`);
    if (r.detail !== last) log(`waiting for ${job} to be ${condition === 'service_healthy' ? 'healthy' : 'running'}: ${r.detail}`);
    last = r.detail;
    if (Date.now() > deadline)
      throw new CliError(`timed out waiting for ${job} (${r.detail}); the rest of the stack was not submitted. See baton job status ${job}`);
    await sleep(500);
  }
}

function parseTimeout(text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    if (err instanceof UnitError) throw new CliError(`--timeout: ${err.message}`);
    throw err;
  }
}

export function registerDeployCommand(program: Command): void {
  program
    .command('deploy')
    .description(
      'Deploy a docker-compose file as a stack: one service job per compose service, named <stack>-<service>, submitted in depends_on order. Keys baton cannot honour are listed as warnings with their line (see docs/compose.md)',
    )
    .option('-f, --file <file>', `the compose file (- reads stdin; default: the first of ${DEFAULT_COMPOSE_FILES.join(', ')})`)
    .option('--name <stack>', 'the stack name (default: $COMPOSE_PROJECT_NAME, name: in the file, or the directory name)')
    .option('-n, --namespace <namespace>', 'namespace to deploy into (default: $BATON_NAMESPACE or "default")')
    .option('--dry-run', 'print the job specs that would be submitted (YAML, or -o json) and the warnings; submit nothing')
    .option('--wait', 'after submitting, wait until every service is running (and healthy when it has a healthcheck)')
    .option('--no-dependencies', 'submit every job at once instead of waiting for the services each one depends on')
    .option('--prune', "stop the stack's jobs whose service is no longer in the file")
    .option('--timeout <duration>', 'how long to wait for one service to come up', '5m')
    .action(async (opts: DeployOptions, cmd: Command) => {
      const g = globalOptions(cmd);
      const timeoutMs = parseTimeout(opts.timeout);
      const file = findComposeFile(process.cwd(), opts.file);
      const source = readSource(file);
      const shown = file === '-' ? 'stdin' : basename(file);
      const namespace = opts.namespace || process.env.BATON_NAMESPACE || undefined;
      // loaded here, not at the top: the spec parser it needs is most of the CLI's start-up time
      const { translateCompose } = await import('../../compose/translate.js');
      let result: ComposeStack;
      try {
        result = translateCompose(source, {
          filename: shown,
          dir: file === '-' ? process.cwd() : dirname(resolve(file)),
          stack: opts.name,
          namespace,
          env: process.env,
          readFile: (p) => readFileSync(p, 'utf8'),
          home: homedir(),
        });
      } catch (err) {
        if (!(err instanceof SpecError)) throw err;
        const lines = err.details.map((d) => `  ${formatIssue(shown, d)}`);
        throw new CliError([err.message, ...(lines.length > 1 || err.details[0]?.path !== '(syntax)' ? lines : [])].join('\n'));
      }
      // with -o json, stdout holds only the JSON document; warnings go to stderr either way
      const warn = (i: ComposeIssue): void => void process.stderr.write(`warning: ${formatIssue(shown, i)}\n`);
      if (opts.dryRun) {
        if (g.output === 'json') {
          printJson({
            stack: result.stack,
            jobs: result.jobs.map((j: ComposeJob) => ({ service: j.service, name: j.name, dependsOn: j.dependsOn, job: j.file })),
            warnings: result.warnings,
          });
        } else process.stdout.write(renderDryRun(result));
        for (const w of result.warnings) warn(w);
        return;
      }
      for (const w of result.warnings) warn(w);
      const client = clientFor(cmd);
      const ns = namespace ?? 'default';
      const log = (l: string): void => void (g.output === 'json' ? process.stderr : process.stdout).write(l + '\n');
      // file secrets first: a job naming a secret that is not there yet would fail to start
      for (const sec of result.secrets) {
        let value: string;
        try {
          value = readFileSync(sec.file, 'utf8');
        } catch (err) {
          throw new CliError(`secrets.${sec.compose}: cannot read ${sec.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
        const info = await client.putSecret(ns, sec.name, { value });
        log(`secret ${ns}/${info.name} ${info.unchanged ? 'unchanged' : `version ${info.version}`} (from ${sec.file})`);
      }
      const submitted: Array<{ service: string; job: string; version: number; evalId: string; warnings: string[] }> = [];
      for (const j of result.jobs) {
        if (opts.dependencies) {
          for (const d of j.dependsOn) {
            // the dependency was submitted just before; completion cannot be awaited, running is the nearest
            const condition = d.condition === 'service_healthy' ? 'service_healthy' : 'service_started';
            await waitUntilUp(client, d.job, ns, condition, Date.now() + timeoutMs, log);
          }
        }
        const res = await client.submitSpec(j.file);
        for (const w of res.warnings) process.stderr.write(`warning: ${j.name}: ${w}\n`);
        submitted.push({ service: j.service, job: res.job.id, version: res.job.version, evalId: res.evalId, warnings: res.warnings });
        log(`job ${res.job.id} version ${res.job.version} submitted (eval ${shortId(res.evalId)})`);
      }
      const pruned: string[] = [];
      if (opts.prune) {
        const names = new Set(result.jobs.map((j) => j.name));
        for (const d of (await stackJobs(client, ns, result.stack)).get(result.stack) ?? []) {
          if (names.has(d.job.id) || d.job.stopped) continue;
          await client.stopJob(d.job.id, d.job.namespace);
          pruned.push(d.job.id);
          log(`job ${d.job.id} stopping (its service is no longer in ${shown})`);
        }
      }
      if (opts.wait) {
        for (const j of result.jobs) {
          const healthy = j.spec.tasks.some((t) => t.checks?.length);
          await waitUntilUp(client, j.name, ns, healthy ? 'service_healthy' : 'service_started', Date.now() + timeoutMs, log);
        }
      }
      if (g.output === 'json') printJson({ stack: result.stack, namespace: ns, jobs: submitted, pruned, warnings: result.warnings });
      else
        log(
          `stack ${result.stack}: ${submitted.length} job${submitted.length === 1 ? '' : 's'} submitted${opts.wait ? ', all up' : ''} (baton stack status ${result.stack}${ns !== 'default' ? ` -n ${ns}` : ''})`,
        );
    });
}

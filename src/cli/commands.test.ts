import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { chooseTask } from './commands/logs.js';
import { withNamespace } from './job-namespace.js';
import { buildProgram } from './program.js';

describe('withNamespace (baton run -n)', () => {
  it('appends the namespace to a YAML job without moving any line', () => {
    const text = 'name: hello\ntype: batch\ntasks:\n  - name: main\n    driver: exec\n';
    const out = withNamespace(text, 'team-a');
    expect(out.startsWith(text)).toBe(true);
    expect(parse(out)).toMatchObject({ name: 'hello', namespace: 'team-a', tasks: [{ name: 'main' }] });
  });

  it('handles a file without a final newline', () => {
    expect(parse(withNamespace('name: hello\ncount: 2', 'ns'))).toEqual({ name: 'hello', count: 2, namespace: 'ns' });
  });

  it('inserts into JSON on the first line, keeping it JSON', () => {
    const text = '{\n  "name": "hello",\n  "count": 2\n}\n';
    const out = withNamespace(text, 'team-a');
    expect(out.split('\n').length).toBe(text.split('\n').length);
    expect(JSON.parse(out)).toEqual({ namespace: 'team-a', name: 'hello', count: 2 });
    expect(JSON.parse(withNamespace('{}', 'x'))).toEqual({ namespace: 'x' });
  });

  it('leaves a file that already names the same namespace alone, and refuses a different one', () => {
    const text = 'name: hello\nnamespace: team-a\n';
    expect(withNamespace(text, 'team-a')).toBe(text);
    expect(() => withNamespace(text, 'team-b', 'job.yaml')).toThrow(/job.yaml sets namespace "team-a" but -n asks for "team-b"/);
  });

  it('passes text it cannot read unchanged, so the server reports the error with lines', () => {
    const broken = 'name: [unclosed\n';
    expect(withNamespace(broken, 'ns')).toBe(broken);
    expect(withNamespace('- a\n- b\n', 'ns')).toBe('- a\n- b\n');
  });

  it('refuses when appending would not produce the namespace (indented document)', () => {
    expect(() => withNamespace('  name: hello\n  count: 1\n', 'ns')).toThrow(/namespace: ns/);
  });
});

describe('chooseTask (baton logs)', () => {
  it('takes the only task when none is named', () => {
    expect(chooseTask(['main'], undefined, 'hello[0]')).toBe('main');
  });
  it('asks for a name when there are several, listing them', () => {
    expect(() => chooseTask(['a', 'b'], undefined, 'hello[0]')).toThrow('hello[0] has 2 tasks; name one: a, b');
  });
  it('rejects an unknown task name, listing the real ones', () => {
    expect(() => chooseTask(['a', 'b'], 'c', 'hello[0]')).toThrow('its tasks are: a, b');
    expect(chooseTask(['a', 'b'], 'b', 'hello[0]')).toBe('b');
  });
});

describe('the command tree', () => {
  function all(cmd: Command): Command[] {
    return [cmd, ...cmd.commands.flatMap(all)];
  }
  function quiet(program: Command): { err: () => string } {
    let err = '';
    for (const c of all(program)) {
      c.exitOverride();
      c.configureOutput({ writeErr: (s) => void (err += s), writeOut: () => {} });
    }
    return { err: () => err };
  }

  it('describes every command, argument and option, and has --help on each', async () => {
    const program = await buildProgram();
    const names = all(program).map((c) => c.name());
    for (const name of ['ls', 'status', 'dispatch', 'system', 'gc']) expect(names).toContain(name);
    for (const c of all(program)) {
      const where = `baton ${c.name()}`;
      expect(c.description(), where).not.toBe('');
      for (const o of c.options) expect(o.description, `${where} ${o.flags}`).not.toBe('');
      for (const a of c.registeredArguments) expect(a.description, `${where} <${a.name()}>`).not.toBe('');
      expect(c.helpInformation(), where).toMatch(/^Usage: baton/);
    }
  });

  it('names the allowed values of a bad --status or --type, and a bad --limit', async () => {
    for (const [args, expected] of [
      [['job', 'ls', '--status', 'bogus'], /'--status <status>' argument 'bogus' is invalid. Allowed choices are pending, running, complete, failed, stopped/],
      [['job', 'ls', '--type', 'cron'], /Allowed choices are batch, service, system, parameterized, periodic/],
      [['alloc', 'ls', '--status', 'dead'], /Allowed choices are pending, running, complete, failed, lost/],
      [['job', 'ls', '--limit', '0'], /'--limit <n>' argument '0' is invalid. give a whole number of 1 or more/],
    ] as const) {
      const program = await buildProgram();
      const out = quiet(program);
      await expect(program.parseAsync(['node', 'baton', ...args])).rejects.toThrow();
      expect(out.err(), args.join(' ')).toMatch(expected);
    }
  });
});

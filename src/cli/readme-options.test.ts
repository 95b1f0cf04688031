import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildProgram } from './program.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** the table rows (lines starting with `|`) of the README section `### \`baton <name>\`` */
function optionTable(name: string): string {
  const start = README.indexOf(`### \`baton ${name}\``);
  expect(start, `README.md has a section "### \`baton ${name}\`"`).toBeGreaterThanOrEqual(0);
  const rest = README.slice(start + 1);
  const end = rest.search(/\n#{2,3} /);
  return rest
    .slice(0, end < 0 ? undefined : end)
    .split('\n')
    .filter((l) => l.startsWith('|'))
    .join('\n');
}

describe('README option tables', () => {
  for (const name of ['server', 'agent', 'dev']) {
    it(`list every option of baton ${name}`, async () => {
      const cmd = (await buildProgram()).commands.find((c) => c.name() === name);
      expect(cmd, `baton ${name} exists`).toBeDefined();
      const table = optionTable(name);
      const missing = cmd!.options.map((o) => o.long!).filter((long) => !table.includes(`\`${long} `) && !table.includes(`\`${long}\``));
      expect(missing, `options of baton ${name} missing from its README table`).toEqual([]);
    });
  }
});

describe('links in README.md and docs/', () => {
  it('point inside the repository, at files that exist', () => {
    const root = new URL('../../', import.meta.url);
    const docs = [
      'README.md',
      ...readdirSync(new URL('docs/', root))
        .filter((f) => f.endsWith('.md'))
        .map((f) => `docs/${f}`),
    ];
    const bad: string[] = [];
    for (const doc of docs) {
      const text = readFileSync(new URL(doc, root), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (target.startsWith('#')) continue;
        const path = target.split('#')[0];
        const resolved = new URL(path, new URL(doc, root));
        if (/^[a-z]+:/i.test(target) || target.startsWith('/') || !resolved.href.startsWith(root.href) || !existsSync(resolved)) bad.push(`${doc}: ${target}`);
      }
    }
    expect(bad).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { assertJsonDepth, assertYamlDepth, jsonDepth, MAX_DEPTH, yamlDepth } from './body-limits.js';

describe('body limits', () => {
  it('measures JSON nesting outside strings', () => {
    expect(jsonDepth('{"a":[1,{"b":"[[[[{{{{"}]}')).toBe(3);
    expect(jsonDepth('"\\"[[["')).toBe(0);
    expect(() => assertJsonDepth('['.repeat(MAX_DEPTH + 1))).toThrow(/nested too deeply/);
    expect(() => assertJsonDepth('['.repeat(MAX_DEPTH) + ']'.repeat(MAX_DEPTH))).not.toThrow();
  });

  it('bounds YAML flow nesting and block indentation, ignoring quotes and comments', () => {
    expect(yamlDepth('a: [1, {b: "[[[["}]  # [[[[\n').flow).toBe(2);
    expect(yamlDepth('- - - x\n').column).toBe(6);
    expect(() => assertYamlDepth(`x: ${'['.repeat(100)}`)).toThrow(/nested too deeply/);
    expect(() => assertYamlDepth(`${' '.repeat(300)}x: 1`)).toThrow(/indented/);
    expect(() => assertYamlDepth(`${'- '.repeat(200)}x`)).toThrow(/indented/);
  });

  it('accepts every example job file', () => {
    for (const f of readdirSync('examples').filter((n) => n.endsWith('.yaml'))) {
      expect(() => assertYamlDepth(readFileSync(`examples/${f}`, 'utf8')), f).not.toThrow();
    }
  });
});

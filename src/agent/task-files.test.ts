import { lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, linkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeTaskFile } from './task-files.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'baton-taskfiles-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('writeTaskFile', () => {
  it('replaces a symlink the task left in place of the file instead of writing through it', async () => {
    const host = tmp();
    const task = tmp();
    const victim = join(host, 'passwd');
    writeFileSync(victim, 'untouched\n');
    symlinkSync(victim, join(task, 'payload'));
    await writeTaskFile(task, 'payload', 'dispatched\n');
    expect(readFileSync(victim, 'utf8')).toBe('untouched\n');
    expect(lstatSync(join(task, 'payload')).isSymbolicLink()).toBe(false);
    expect(readFileSync(join(task, 'payload'), 'utf8')).toBe('dispatched\n');
  });

  it('does not write through a hard link either', async () => {
    const host = tmp();
    const task = tmp();
    const victim = join(host, 'file');
    writeFileSync(victim, 'untouched\n');
    linkSync(victim, join(task, 'payload'));
    await writeTaskFile(task, 'payload', 'x', { mode: 0o600 });
    expect(readFileSync(victim, 'utf8')).toBe('untouched\n');
    expect(lstatSync(join(task, 'payload')).mode & 0o777).toBe(0o600);
  });

  it('refuses a task dir that is itself a link', async () => {
    const host = tmp();
    const parent = tmp();
    symlinkSync(host, join(parent, 'task'));
    await expect(writeTaskFile(join(parent, 'task'), 'payload', 'x')).rejects.toThrow(/not a directory/);
    expect(() => lstatSync(join(host, 'payload'))).toThrow();
  });
});

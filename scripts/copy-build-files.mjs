#!/usr/bin/env node
/**
 * The part of the build tsc does not do: files under src/ that are not
 * TypeScript but are loaded beside the compiled code at run time (the exec
 * driver's Perl launcher, src/drivers/exec-launcher.pl) are copied to the same
 * place under dist/. `npm run build` runs it after tsc; test/support's global
 * setup runs it too, so a bare `tsc -p tsconfig.build.json` before the e2e
 * tests still gives agents their launcher.
 *
 *   node scripts/copy-build-files.mjs
 */
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** what is copied: by name ending */
const EXTENSIONS = ['.pl'];

/**
 * @param {string} [root] the repository
 * @returns {string[]} the files copied, relative to root
 */
export function copyBuildFiles(root = resolve(dirname(fileURLToPath(import.meta.url)), '..')) {
  const src = join(root, 'src');
  const dist = join(root, 'dist');
  /** @type {string[]} */
  const copied = [];
  /** @param {string} dir */
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (EXTENSIONS.some((x) => e.name.endsWith(x))) {
        const to = join(dist, relative(src, p));
        mkdirSync(dirname(to), { recursive: true });
        copyFileSync(p, to);
        copied.push(relative(root, to));
      }
    }
  };
  walk(src);
  return copied;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  copyBuildFiles();
}

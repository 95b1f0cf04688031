/**
 * The image the docker tests run: busybox imported from the host's static
 * binary, so no test ever depends on a registry being reachable.
 */
import Docker from 'dockerode';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const TEST_IMAGE = 'baton-test/busybox:latest';
const BUSYBOX = '/bin/busybox';
const APPLETS = [
  'sh',
  'ash',
  'sleep',
  'echo',
  'cat',
  'dd',
  'httpd',
  'wget',
  'head',
  'tail',
  'true',
  'false',
  'kill',
  'env',
  'ls',
  'printf',
  'yes',
  'seq',
  'mkdir',
  'rm',
  'grep',
  'sed',
  'wc',
  'date',
  'id',
  'hostname',
  'nc',
  'ps',
  'tr',
  'touch',
  'test',
  '[',
  'sync',
  'uname',
  'pwd',
  'which',
  'timeout',
  'cp',
  'mv',
  'ln',
  'chmod',
  'awk',
  'xargs',
  'tee',
  'top',
  'free',
  'nslookup',
  'ping',
  'stat',
  'find',
  'basename',
  'dirname',
  'expr',
  'vi',
];

const run = promisify(execFile);

export async function dockerAvailable(): Promise<boolean> {
  try {
    // DOCKER_HOST first, as the driver does (dockerode reads it): rootless Docker users' suites must not skip silently
    const docker = new Docker({ timeout: 5000 });
    await docker.ping();
    return true;
  } catch {
    return false;
  }
}

async function imageExists(docker: Docker): Promise<boolean> {
  try {
    await docker.getImage(TEST_IMAGE).inspect();
    return true;
  } catch {
    return false;
  }
}

export async function ensureTestImage(): Promise<string> {
  const docker = new Docker();
  if (await imageExists(docker)) return TEST_IMAGE;
  if (!existsSync(BUSYBOX)) {
    throw new Error(`${BUSYBOX} is missing: install the Debian package "busybox-static" to build ${TEST_IMAGE}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'baton-image-'));
  try {
    const root = join(dir, 'root');
    mkdirSync(join(root, 'bin'), { recursive: true });
    mkdirSync(join(root, 'tmp'), { recursive: true, mode: 0o1777 });
    copyFileSync(BUSYBOX, join(root, 'bin', 'busybox'));
    for (const a of APPLETS) symlinkSync('busybox', join(root, 'bin', a));
    const tar = join(dir, 'rootfs.tar');
    await run('tar', ['-C', root, '-cf', tar, '.']);
    const [repo, tag] = TEST_IMAGE.split(':');
    const stream = await docker.importImage(tar, {
      repo,
      tag,
      changes: 'CMD ["/bin/sh"]',
    } as object);
    await new Promise<void>((resolve, reject) =>
      docker.modem.followProgress(stream, (err: Error | null, out: Array<{ error?: string }>) => {
        const failed = err ?? out?.find((o) => o.error);
        if (failed) reject(failed instanceof Error ? failed : new Error(`docker import: ${failed.error}`));
        else resolve();
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (!(await imageExists(docker))) throw new Error(`docker import finished but ${TEST_IMAGE} is not there`);
  return TEST_IMAGE;
}

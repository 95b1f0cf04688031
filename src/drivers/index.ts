import type { Driver } from './driver.js';
import { DockerDriver, type DockerDriverOptions } from './docker.js';
import { ExecDriver, type ExecDriverOptions } from './exec.js';

export { DockerDriver } from './docker.js';
export { ExecDriver } from './exec.js';
export type * from './driver.js';

/** Every built-in driver, or only those named in `only` (e.g. `--drivers exec`). */
export function createDrivers(only?: string[], opts: { exec?: ExecDriverOptions; docker?: DockerDriverOptions } = {}): Driver[] {
  const all: Array<[string, () => Driver]> = [
    ['docker', () => new DockerDriver(opts.docker)],
    ['exec', () => new ExecDriver(opts.exec)],
  ];
  return all.filter(([name]) => !only || only.includes(name)).map(([, make]) => make());
}

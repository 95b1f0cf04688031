/**
 * What a task may only do on a node whose operator allowed it: run as root
 * (exec), or ask the docker driver for privileged containers, the host's
 * network or pid namespace, added capabilities, devices and bind mounts of
 * host paths. Shared by the scheduler (node attributes) and the agent (its
 * flags), so both say no for the same reasons.
 */
import type { TaskSpec } from '../api/types.js';

export const DOCKER_ALLOWANCES = ['privileged', 'host-network', 'host-pid', 'cap-add', 'devices'] as const;
export type DockerAllowance = (typeof DOCKER_ALLOWANCES)[number];
export type Allowance = 'root' | DockerAllowance | 'host-path';

/** node attribute saying the agent allows a docker ask (value "true") */
export const dockerAllowAttribute = (a: DockerAllowance): string => `driver.docker.allow.${a.replace('-', '_')}`;
/** node attribute listing the host path prefixes docker tasks may bind, comma-separated */
export const HOST_PATHS_ATTRIBUTE = 'driver.docker.allow.host_paths';
export const ALLOW_ROOT_ATTRIBUTE = 'driver.exec.allow_root';

/** `user: root`, uid 0 or `0:gid`: an agent refuses it where root is not allowed */
export function asksForRoot(user: string | undefined): boolean {
  if (user === undefined) return false;
  const u = user.split(':')[0];
  return u === 'root' || /^0+$/.test(u);
}

/** what the task's docker settings ask for beyond the defaults */
export function dockerAsks(t: Pick<TaskSpec, 'privileged' | 'networkMode' | 'pidMode' | 'capAdd' | 'devices'>): DockerAllowance[] {
  const out: DockerAllowance[] = [];
  if (t.privileged) out.push('privileged');
  if (t.networkMode === 'host') out.push('host-network');
  if (t.pidMode === 'host') out.push('host-pid');
  if (t.capAdd?.length) out.push('cap-add');
  if (t.devices?.length) out.push('devices');
  return out;
}

/** a host path lies under one of the prefixes (whole path components: /data allows /data/x, not /database) */
export function underPrefix(path: string, prefixes: readonly string[]): boolean {
  return prefixes.some((p) => {
    const base = p === '/' ? '/' : p.replace(/\/+$/, '');
    return base === '/' || path === base || path.startsWith(`${base}/`);
  });
}

export function parsePrefixes(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** the user-facing wording of a need and how an operator allows it */
export const ALLOWANCE_TEXT: Record<Allowance, { needs: string; how: string }> = {
  root: { needs: 'needs to run as root (user: root)', how: '--allow-root' },
  privileged: { needs: 'needs privileged containers', how: '--allow privileged' },
  'host-network': { needs: "needs the host's network (network_mode: host)", how: '--allow host-network' },
  'host-pid': { needs: "needs the host's pid namespace (pid_mode: host)", how: '--allow host-pid' },
  'cap-add': { needs: 'needs added capabilities (cap_add)', how: '--allow cap-add' },
  devices: { needs: 'needs host devices (devices)', how: '--allow devices' },
  'host-path': { needs: 'needs to bind host paths (mounts)', how: '--allow-host-path <prefix>' },
};

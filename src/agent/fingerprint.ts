/**
 * What this node is and what it can offer: capacity (detected or declared,
 * minus what the operator reserves), machine facts for constraints, and the
 * health of each driver.
 */
import { mkdir, stat, statfs } from 'node:fs/promises';
import os from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import type { DriverInfo, RegisterNodeRequest, Resources } from '../api/types.js';
import type { Driver } from '../drivers/driver.js';

export interface FingerprintOptions {
  dataDir: string;
  name?: string;
  cpu?: number;
  memory?: number;
  reserveCpu?: number;
  reserveMemory?: number;
  nodeClass?: string;
  datacenter?: string;
  labels?: Record<string, string>;
  /** where other machines reach this node's tasks; default: the first non-internal IPv4 */
  address?: string;
  /** host volumes offered to tasks, by name */
  volumes?: Record<string, HostVolume>;
  /** dynamic ports come from here */
  portRange?: PortRange;
}

export interface HostVolume {
  path: string;
  readOnly: boolean;
}

export interface PortRange {
  from: number;
  to: number;
}

export const DEFAULT_PORT_RANGE: PortRange = { from: 20000, to: 32000 };

/** interfaces container runtimes and overlays create: their addresses are not reachable from other machines */
const VIRTUAL_IFACE = /^(docker|br-|veth|virbr|cni|flannel|cali|vxlan|weave|tun|tap|lxc|podman)/;

/**
 * The address other machines reach this node at, when --address is not given:
 * the first non-internal IPv4 of a real interface, else of any interface,
 * else loopback (a single-machine cluster still works).
 */
export function defaultAddress(ifaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces()): string {
  const v4 = (real: boolean): string | undefined => {
    for (const [name, list] of Object.entries(ifaces)) {
      if (real && VIRTUAL_IFACE.test(name)) continue;
      const a = (list ?? []).find((x) => x.family === 'IPv4' && !x.internal);
      if (a) return a.address;
    }
    return undefined;
  };
  return v4(true) ?? v4(false) ?? '127.0.0.1';
}

/** `site=/srv/www:ro` → ['site', { path, readOnly }]; the path is made absolute against cwd. */
export function parseVolumeFlag(flag: string, cwd = process.cwd()): [string, HostVolume] {
  const eq = flag.indexOf('=');
  const name = eq > 0 ? flag.slice(0, eq) : '';
  let path = eq > 0 ? flag.slice(eq + 1) : '';
  if (!name || !path) throw new Error(`--volume "${flag}" is not name=/path[:ro] (e.g. --volume data=/srv/data:ro)`);
  if (name.length > 64 || !/^[A-Za-z0-9_.-]+$/.test(name)) {
    throw new Error(`--volume "${flag}": the name "${name}" may only hold letters, digits, _ . and - (at most 64)`);
  }
  let readOnly = false;
  const m = /:(ro|rw)$/.exec(path);
  if (m) {
    readOnly = m[1] === 'ro';
    path = path.slice(0, -3);
  }
  if (!path) throw new Error(`--volume "${flag}" has no path`);
  return [name, { path: isAbsolute(path) ? path : resolve(cwd, path), readOnly }];
}

/** Every volume flag parsed, each path checked to exist now: a typo should stop the agent, not a task later. */
export async function parseVolumeFlags(flags: string[], cwd = process.cwd()): Promise<Record<string, HostVolume>> {
  const out: Record<string, HostVolume> = {};
  for (const f of flags) {
    const [name, v] = parseVolumeFlag(f, cwd);
    if (out[name]) throw new Error(`--volume ${name} is given twice`);
    try {
      await stat(v.path);
    } catch {
      throw new Error(`--volume ${name}: ${v.path} does not exist on this machine; create it first or fix the path`);
    }
    out[name] = v;
  }
  return out;
}

/** `20000-32000` → { from, to } */
export function parsePortRange(text: string): PortRange {
  const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(text);
  if (!m) throw new Error(`--port-range "${text}" is not from-to (e.g. 20000-32000)`);
  const from = Number(m[1]);
  const to = Number(m[2]);
  if (from < 1 || to > 65535 || from > to) throw new Error(`--port-range "${text}" must be two ports within 1-65535, the first not above the second`);
  return { from, to };
}

export interface NodeFingerprint {
  request: RegisterNodeRequest;
  /** the drivers that answered healthy: the only ones tasks may run on */
  healthy: Driver[];
}

/** Declared values replace detected ones; reserved is then taken off, never below zero. */
export function computeCapacity(detected: Resources, declared: Partial<Resources>, reserved: Resources): Resources {
  const pick = (k: 'cpu' | 'memory' | 'disk'): number => Math.max(0, Math.floor((declared[k] ?? detected[k]) - reserved[k]));
  return { cpu: pick('cpu'), memory: pick('memory'), disk: pick('disk') };
}

export async function detectResources(dataDir: string): Promise<Resources> {
  await mkdir(dataDir, { recursive: true });
  let disk = 0;
  try {
    const s = await statfs(dataDir);
    disk = Number(s.bavail) * Number(s.bsize);
  } catch {
    // statfs is missing on a few platforms: offer no disk rather than fail to start
  }
  return { cpu: os.availableParallelism() * 1000, memory: os.totalmem(), disk };
}

export async function fingerprintDrivers(
  drivers: Driver[],
): Promise<{ infos: Record<string, DriverInfo>; attributes: Record<string, string>; healthy: Driver[] }> {
  const infos: Record<string, DriverInfo> = {};
  const attributes: Record<string, string> = {};
  const healthy: Driver[] = [];
  const results = await Promise.all(
    drivers.map(async (d) => {
      try {
        return await d.fingerprint();
      } catch (err) {
        return { healthy: false, detail: `fingerprint failed: ${err instanceof Error ? err.message : String(err)}`, attributes: {} };
      }
    }),
  );
  drivers.forEach((d, i) => {
    const f = results[i];
    infos[d.name] = { healthy: f.healthy, detail: f.detail };
    if (f.healthy) {
      healthy.push(d);
      Object.assign(attributes, f.attributes);
    }
  });
  return { infos, attributes, healthy };
}

export async function fingerprintNode(opts: FingerprintOptions, drivers: Driver[]): Promise<NodeFingerprint> {
  const detected = await detectResources(opts.dataDir);
  const reserved: Resources = { cpu: opts.reserveCpu ?? 0, memory: opts.reserveMemory ?? 0, disk: 0 };
  const capacity = computeCapacity(detected, { cpu: opts.cpu, memory: opts.memory }, reserved);
  const d = await fingerprintDrivers(drivers);
  const attributes: Record<string, string> = {
    'os.name': os.platform(),
    'os.arch': os.arch(),
    'kernel.version': os.release(),
    'cpu.cores': String(os.availableParallelism()),
    'memory.total': String(os.totalmem()),
    hostname: os.hostname(),
    ...d.attributes,
  };
  return {
    request: {
      name: opts.name ?? os.hostname(),
      nodeClass: opts.nodeClass ?? '',
      datacenter: opts.datacenter ?? 'dc1',
      drivers: d.infos,
      attributes,
      labels: opts.labels ?? {},
      capacity,
      reserved,
      address: opts.address ?? defaultAddress(),
      volumes: opts.volumes ?? {},
      portRange: opts.portRange ?? DEFAULT_PORT_RANGE,
    },
    healthy: d.healthy,
  };
}

/**
 * What this node is and what it can offer: capacity (detected or declared,
 * minus what the operator reserves), machine facts for constraints, and the
 * health of each driver.
 */
import { mkdir, statfs } from 'node:fs/promises';
import os from 'node:os';
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
}

export interface NodeFingerprint {
  request: RegisterNodeRequest;
  /** the drivers that answered healthy: the only ones tasks may run on */
  healthy: Driver[];
}

/** Declared values replace detected ones; reserved is then taken off, never below zero. */
export function computeCapacity(detected: Resources, declared: Partial<Resources>, reserved: Resources): Resources {
  const pick = (k: keyof Resources): number => Math.max(0, Math.floor((declared[k] ?? detected[k]) - reserved[k]));
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

export async function fingerprintDrivers(drivers: Driver[]): Promise<{ infos: Record<string, DriverInfo>; attributes: Record<string, string>; healthy: Driver[] }> {
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
    },
    healthy: d.healthy,
  };
}

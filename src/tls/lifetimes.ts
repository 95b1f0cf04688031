/**
 * How long certificates live. BATON_CERT_LIFETIME (a duration such as 40s)
 * shortens node and server certificates for tests that watch a renewal.
 */
import { parseDuration } from '../spec/units.js';

export const CA_LIFETIME_MS = 10 * 365 * 24 * 3600_000;
export const NODE_CERT_LIFETIME_MS = 30 * 24 * 3600_000;
export const SERVER_CERT_LIFETIME_MS = 90 * 24 * 3600_000;

export function leafLifetime(defaultMs: number, env: NodeJS.ProcessEnv = process.env): number {
  const v = env.BATON_CERT_LIFETIME;
  if (!v) return defaultMs;
  try {
    return parseDuration(v);
  } catch (err) {
    throw new Error(`BATON_CERT_LIFETIME="${v}": ${(err as Error).message}`);
  }
}

import type { Alloc } from '../api/types.js';

/** An alloc occupies its node while pending or running, whatever its desired status. */
export function isHoldingCapacity(a: Alloc): boolean {
  return a.clientStatus === 'pending' || a.clientStatus === 'running';
}

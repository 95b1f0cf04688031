/** Every process on the machine now, with its /proc stat, for the benchmarks that sum a process tree. */
import { readdirSync } from 'node:fs';
import { readProcStat, type ProcStat } from '../../src/drivers/proc.js';

export function processes(): Array<{ pid: number; stat: ProcStat }> {
  const out: Array<{ pid: number; stat: ProcStat }> = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProcStat(Number(name));
    // gone between the listing and the read
    if (stat) out.push({ pid: Number(name), stat });
  }
  return out;
}

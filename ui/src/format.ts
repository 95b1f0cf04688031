/** Units as people read them: cpu in cores, memory in MiB/GiB, durations and ages in words. */

export function bytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1).replace(/\.0$/, '')} ${units[i]}`;
}

/** millicores */
export function cpu(m: number | undefined): string {
  if (m === undefined || !Number.isFinite(m)) return '–';
  return m >= 1000 ? `${(m / 1000).toFixed(2).replace(/\.?0+$/, '')} cores` : `${Math.round(m)}m`;
}

/** a task's cpu: its request, and its hard cap when it sets one */
export function cpuRequest(r: { cpu: number; cpuLimit?: number }): string {
  return r.cpuLimit ? `${cpu(r.cpu)} (limit ${cpu(r.cpuLimit)})` : cpu(r.cpu);
}

export function duration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '–';
  // sweeps of short runs: 300ms is not "0s"
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 10_000) return `${(ms / 1000).toFixed(1).replace(/\.0$/, '')}s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60 ? ` ${s % 60}s` : ''}`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${m % 60 ? ` ${m % 60}m` : ''}`;
  return `${Math.floor(h / 24)}d`;
}

export function ago(iso: string | undefined, now: number): string {
  if (!iso) return '–';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '–';
  const d = now - t;
  // server and browser clocks differ a little: a few seconds either way is just now
  if (Math.abs(d) < 3000) return 'just now';
  // whole seconds: an age of "3.4s" only flickers
  const whole = Math.round(Math.abs(d) / 1000) * 1000;
  return d < 0 ? `in ${duration(whole)}` : `${duration(whole)} ago`;
}

export function shortId(id: string | undefined): string {
  return id ? id.slice(0, 8) : '–';
}

export function pct(used: number, total: number): number {
  return total > 0 ? Math.min(100, Math.max(0, (used / total) * 100)) : 0;
}

const INT = new Intl.NumberFormat('en-US');

/** a count with thousands separators: 100,000 */
export function int(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n) ? '–' : INT.format(n);
}

/** "3 runs", "1 run" */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${int(n)} ${n === 1 ? one : many}`;
}

/** a time to come, in words and on the clock: "in 3h 5m (14:05)" */
export function until(iso: string | undefined, now: number): string {
  if (!iso) return '–';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '–';
  const clock = new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return t - now < 3000 ? `any moment now` : `in ${duration(t - now)} (${t - now > 86_400_000 ? `${new Date(t).toLocaleDateString()} ` : ''}${clock})`;
}

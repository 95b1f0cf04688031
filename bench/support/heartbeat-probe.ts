/**
 * The heartbeat probe of bench/queue, in a process of its own so that what
 * the benchmark itself does (building a 10,000-run request, parsing answers)
 * never delays a beat and shows up as the server's fault.
 *
 * It heartbeats a fake node (registered by the benchmark, ineligible, no
 * drivers) once a second and reports each round trip; and it reads the node
 * list every two seconds to report how old the real agent's last heartbeat is
 * in the server's eyes, and its status. Started with fork(); configured by
 * its first IPC message; reports by IPC.
 */
import { performance } from 'node:perf_hooks';

export interface ProbeConfig {
  url: string;
  /** the fake node's secret */
  secret: string;
  /** read token and the id of the real agent's node, to watch its heartbeats as the server sees them */
  adminToken: string;
  watchNodeId?: string;
  beatEveryMs: number;
  watchEveryMs: number;
}

export type ProbeReport =
  /** one heartbeat: sent at (epoch ms), its round trip, and when it came back */
  | { kind: 'beat'; sentAt: number; doneAt: number; rttMs: number; ok: boolean; status?: string; error?: string }
  /** the real agent's node as the server lists it */
  | { kind: 'node'; at: number; ageMs: number; status: string; rttMs: number }
  | { kind: 'watch-error'; at: number; error: string };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

function report(r: ProbeReport): void {
  process.send?.(r);
}

async function beats(cfg: ProbeConfig): Promise<void> {
  let next = Date.now();
  for (;;) {
    await sleep(next - Date.now());
    const sentAt = Date.now();
    next = sentAt + cfg.beatEveryMs;
    const t0 = performance.now();
    try {
      const res = await fetch(new URL('/v1/agent/heartbeat', cfg.url), {
        method: 'POST',
        headers: { authorization: `Bearer ${cfg.secret}`, 'content-type': 'application/json' },
        body: '{}',
        signal: AbortSignal.timeout(120_000),
      });
      const text = await res.text();
      const rttMs = performance.now() - t0;
      let status: string | undefined;
      try {
        status = (JSON.parse(text) as { status?: string }).status;
      } catch {
        /* not JSON */
      }
      report({
        kind: 'beat',
        sentAt,
        doneAt: Date.now(),
        rttMs,
        ok: res.ok,
        ...(status ? { status } : {}),
        ...(res.ok ? {} : { error: `HTTP ${res.status}` }),
      });
    } catch (err) {
      report({ kind: 'beat', sentAt, doneAt: Date.now(), rttMs: performance.now() - t0, ok: false, error: (err as Error).message });
    }
  }
}

async function watch(cfg: ProbeConfig): Promise<void> {
  if (!cfg.watchNodeId) return;
  for (;;) {
    await sleep(cfg.watchEveryMs);
    const t0 = performance.now();
    try {
      const res = await fetch(new URL('/v1/nodes?limit=100', cfg.url), {
        headers: { authorization: `Bearer ${cfg.adminToken}` },
        signal: AbortSignal.timeout(120_000),
      });
      const page = (await res.json()) as { items?: Array<{ id: string; status: string; lastHeartbeatAt: string }> };
      const n = page.items?.find((x) => x.id === cfg.watchNodeId);
      const at = Date.now();
      if (n) report({ kind: 'node', at, ageMs: at - Date.parse(n.lastHeartbeatAt), status: n.status, rttMs: performance.now() - t0 });
      else report({ kind: 'watch-error', at, error: `node ${cfg.watchNodeId} not listed (HTTP ${res.status})` });
    } catch (err) {
      report({ kind: 'watch-error', at: Date.now(), error: (err as Error).message });
    }
  }
}

process.once('message', (cfg: ProbeConfig) => {
  void beats(cfg);
  void watch(cfg);
});
// the benchmark went away: so does the probe
process.on('disconnect', () => process.exit(0));

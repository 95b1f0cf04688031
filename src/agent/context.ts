/** What every runner of one agent shares. */
import type { Logger } from 'pino';
import type { AgentClient } from '../client/agent-client.js';
import type { Driver } from '../drivers/driver.js';
import type { NodeBound } from '../jobs/disconnect.js';
import type { StateStore } from './state-file.js';
import type { StatusReporter } from './status-reporter.js';

export interface AgentContext {
  client: AgentClient;
  store: StateStore;
  reporter: StatusReporter;
  /** healthy drivers by name */
  drivers: Map<string, Driver>;
  logger: Logger;
  /** aborted when the agent closes: loops end, tasks are left running */
  signal: AbortSignal;
  /** how often a running task's usage is sampled; default USAGE_POLL_MS (tests shorten it) */
  usagePollMs?: number;
  /** what tasks need to know of this node's network and disks (absent in tests that do not care) */
  node?: NodeNetwork;
  /** how long the node has been without the server, against the bound it keeps to (absent in tests that do not care) */
  disconnect?: { silentMs(): number; bound(): NodeBound };
  /** a task was started (its handle is known): the watchdog's lease is written now */
  taskStarted?: () => void;
  /** settles once the agent is connected: reports and logs wait for it (absent: connected already) */
  connected?: Promise<void>;
}

export interface NodeNetwork {
  /** where other machines reach this node's published ports */
  address: string;
  /** the --address the operator gave: ports are published there only, not on every interface */
  bindAddress?: string;
  /** the host volumes given with --volume */
  volumes: Record<string, { path: string; readOnly: boolean }>;
}

/** Resolves with the promise's value, or undefined once the signal aborted. */
export function unlessAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = (): void => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

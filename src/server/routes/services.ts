/**
 * The service registry: who answers for a service right now. It is not
 * stored anywhere; it is read off the running allocs (healthy, of a task that
 * declares a `service`), their job version's spec and their node's address.
 * Watchers block until the endpoint list of their service changes.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Alloc, JobSpec, NodeInfo, ServiceEndpoint, ServiceEndpointsResponse, ServiceSummary } from '../../api/types.js';
import type { Store } from '../../store/store.js';
import { requireNode, requireUser } from '../auth.js';
import type { ServerContext } from '../context.js';
import { parseInput as parse } from '../errors.js';
import { indexParam, waitParam } from '../schemas.js';
import { routes } from '../../api/routes.js';
import { on } from '../route.js';

const FALLBACK_ADDRESS = '127.0.0.1';

export interface RegistryView {
  /** every healthy endpoint, sorted by service, namespace, address, port */
  endpoints: ServiceEndpoint[];
  /** every service some running alloc declares, healthy or not */
  summaries: ServiceSummary[];
}

/** Pure: the registry as seen from these allocs, specs and nodes. */
export function computeRegistry(
  allocs: Alloc[],
  specOf: (a: Alloc) => JobSpec | undefined,
  nodes: Map<string, Pick<NodeInfo, 'name' | 'address'>>,
): RegistryView {
  const endpoints: ServiceEndpoint[] = [];
  const summaries = new Map<string, ServiceSummary>();
  for (const a of allocs) {
    // an alloc on its way out (stop asked) no longer takes traffic, even while it still runs
    if (a.clientStatus !== 'running' || a.desiredStatus !== 'run') continue;
    const spec = specOf(a);
    if (!spec) continue;
    for (const t of spec.tasks) {
      const svc = t.service;
      if (!svc) continue;
      const key = `${a.namespace}\u0000${svc.name}`;
      const sum = summaries.get(key) ?? { name: svc.name, namespace: a.namespace, tags: [], healthy: 0 };
      for (const tag of svc.tags) if (!sum.tags.includes(tag)) sum.tags.push(tag);
      summaries.set(key, sum);
      if (a.healthy !== true) continue;
      const port = a.ports?.[t.name]?.[svc.port]?.host ?? t.ports?.find((p) => p.name === svc.port)?.static;
      // a dynamic port the scheduler did not assign cannot be dialled
      if (port === undefined) continue;
      const node = nodes.get(a.nodeId);
      endpoints.push({
        service: svc.name,
        namespace: a.namespace,
        jobId: a.jobId,
        allocId: a.id,
        task: t.name,
        nodeId: a.nodeId,
        nodeName: node?.name ?? a.nodeId,
        address: node?.address || FALLBACK_ADDRESS,
        port,
        tags: svc.tags,
      });
      sum.healthy++;
    }
  }
  endpoints.sort(
    (x, y) =>
      x.service.localeCompare(y.service) ||
      x.namespace.localeCompare(y.namespace) ||
      x.address.localeCompare(y.address) ||
      x.port - y.port ||
      x.allocId.localeCompare(y.allocId),
  );
  const list = [...summaries.values()].sort((x, y) => x.name.localeCompare(y.name) || x.namespace.localeCompare(y.namespace));
  for (const s of list) s.tags.sort();
  return { endpoints, summaries: list };
}

export function hashEndpoints(endpoints: ServiceEndpoint[]): string {
  return createHash('sha256').update(JSON.stringify(endpoints)).digest('hex');
}

/**
 * Reads the registry from the store, and remembers per service the index at
 * which its endpoint list last changed, so `?index=` can be answered the way
 * the agent's alloc watch is: hold on while nothing changed since then.
 */
export class Registry {
  private readonly lastChange = new Map<string, { hash: string; index: number }>();
  private readonly specs = new Map<string, JobSpec | undefined>();
  private current: Promise<RegistryView> | undefined;
  private currentAt = -1;

  constructor(private readonly store: Store) {}

  /** the view at the store's current index; concurrent callers at one index share one read */
  view(): Promise<RegistryView> {
    const at = this.store.currentIndex();
    if (!this.current || this.currentAt !== at) {
      this.currentAt = at;
      this.current = this.read().catch((err) => {
        this.current = undefined;
        throw err;
      });
    }
    return this.current;
  }

  private async read(): Promise<RegistryView> {
    const [allocs, nodes] = await Promise.all([this.store.listAllocs({ status: 'running' }), this.store.listNodes()]);
    // a job version's spec never changes once written: cache it for as long as the server lives
    const wanted = new Set(allocs.map((a) => `${a.namespace}\u0000${a.jobId}\u0000${a.jobVersion}`));
    await Promise.all(
      [...wanted]
        .filter((k) => !this.specs.has(k))
        .map(async (k) => {
          const [ns, id, v] = k.split('\u0000');
          this.specs.set(k, await this.store.jobVersionSpec(ns, id, Number(v)));
        }),
    );
    return computeRegistry(allocs, (a) => this.specs.get(`${a.namespace}\u0000${a.jobId}\u0000${a.jobVersion}`), new Map(nodes.map((n) => [n.id, n])));
  }

  /** one service's endpoints and the index at which that list last changed */
  async endpoints(namespace: string, name: string): Promise<ServiceEndpointsResponse> {
    const at = Math.max(this.store.currentIndex(), 1);
    const view = await this.view();
    const endpoints = view.endpoints.filter((e) => e.namespace === namespace && e.service === name);
    const hash = hashEndpoints(endpoints);
    const key = `${namespace}\u0000${name}`;
    const last = this.lastChange.get(key);
    if (!last || last.hash !== hash) {
      // first sight since the server started counts as a change: a watcher's older index must not block
      this.lastChange.set(key, { hash, index: at });
      return { index: at, endpoints };
    }
    return { index: last.index, endpoints };
  }

  /**
   * Answers once the list changed after `index`, or after `waitMs` with the
   * list as it is. Every store change is a chance; most do not touch it.
   */
  async watch(namespace: string, name: string, index: number, waitMs: number, signal: AbortSignal): Promise<ServiceEndpointsResponse> {
    let res = await this.endpoints(namespace, name);
    if (index <= 0 || waitMs <= 0 || res.index > index) return res;
    const deadline = Date.now() + waitMs;
    while (!signal.aborted && Date.now() < deadline) {
      await waitForChange(this.store, deadline - Date.now(), signal);
      if (signal.aborted) break;
      res = await this.endpoints(namespace, name);
      if (res.index > index) return res;
    }
    return res;
  }
}

function waitForChange(store: Store, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      store.off('change', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    store.on('change', done);
    signal.addEventListener('abort', done);
  });
}

const nameParam = z.string().min(1).max(64);

export function serviceRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const registry = new Registry(ctx.store);
  const listQuery = z.object({ namespace: z.string().max(64).optional() });
  const watchQuery = z.object({ namespace: z.string().max(64).optional(), index: indexParam, wait: waitParam(300_000) });

  on(app, routes.listServices, async (req) => {
    const q = parse(listQuery, req.query, 'query');
    const ns = q.namespace ?? '*';
    const token = requireUser(req.principal, 'read', ns);
    const { summaries } = await registry.view();
    return summaries.filter((s) => (ns === '*' || s.namespace === ns) && (token.namespace === '*' || s.namespace === token.namespace));
  });

  const watch = async (req: { raw: NodeJS.EventEmitter }, name: string, q: z.infer<typeof watchQuery>): Promise<ServiceEndpointsResponse> => {
    const abort = new AbortController();
    req.raw.on('close', () => abort.abort());
    return registry.watch(q.namespace ?? 'default', name, q.index, q.wait, AbortSignal.any([abort.signal, ctx.closing]));
  };

  on(app, routes.serviceEndpoints, async (req) => {
    const q = parse(watchQuery, req.query, 'query');
    const name = parse(nameParam, req.params.name, 'service name');
    requireUser(req.principal, 'read', q.namespace ?? 'default');
    return watch(req, name, q);
  });

  // what an agent reads for a task's upstreams: any namespace, since the node runs tasks of every namespace
  on(app, routes.agentServiceEndpoints, async (req) => {
    requireNode(req.principal);
    const q = parse(watchQuery, req.query, 'query');
    const name = parse(nameParam, req.params.name, 'service name');
    return watch(req, name, q);
  });
}

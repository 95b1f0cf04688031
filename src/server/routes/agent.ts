/** The agent API: registration, heartbeats, the blocking alloc watch, reports and logs. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { newSecret } from '../../store/ids.js';
import { requireNode } from '../auth.js';
import { HttpError, parseInput as parse } from '../errors.js';
import { allocStatusSchema, heartbeatSchema, indexParam, registerNodeSchema, registerWithCsrSchema, shipLogsSchema, waitParam } from '../schemas.js';
import type { ServerContext } from '../context.js';
import { serverTlsOf } from '../node-identity.js';
import { csrPublicKey } from '../../tls/x509.js';
import { usageHistoryFor } from '../usage-history.js';
import { defaultStopAfterMs } from '../../jobs/disconnect.js';
import { routes } from '../../api/routes.js';
import { on } from '../route.js';

export function agentRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const { store } = ctx;

  on(app, routes.agentRegister, async (req) => {
    if (req.principal.kind !== 'join') throw new HttpError(403, 'registering a node needs the join token that `baton server` printed');
    const { csr, ...body } = parse(registerWithCsrSchema, req.body, 'node registration');
    const tls = serverTlsOf(store);
    // a bad request is refused before a node exists
    if (csr !== undefined && tls)
      await csrPublicKey(csr).catch((err: Error) => {
        throw new HttpError(400, `csr: ${err.message}`, [{ path: 'csr', message: err.message }]);
      });
    const secret = newSecret('node');
    const node = await store.registerNode(body, secret, ctx.heartbeatTtlMs, Date.now());
    ctx.logger.info({ node: node.name, id: node.id }, 'node registered');
    const cert = csr !== undefined && tls ? { certificate: await tls.issueNode(csr, node.id), ca: tls.caPem } : {};
    return { nodeId: node.id, secret, heartbeatTtlMs: node.heartbeatTtlMs, stopAfterMs: defaultStopAfterMs(node.heartbeatTtlMs), ...cert };
  });

  on(app, routes.agentUpdateNode, async (req) => {
    const me = requireNode(req.principal);
    const body = parse(registerNodeSchema, req.body, 'node update');
    // a node's facts are its own agent's to report (capacity from its fingerprint, class and datacenter
    // from its operator's flags, as with Nomad's client); its name is how people and other nodes tell it
    // apart: taking another node's name would let a node pass for that one
    const current = await store.getNode(me.id);
    if (body.name !== current.name) {
      const holder = (await store.listNodes()).find((n) => n.id !== me.id && n.name === body.name);
      if (holder)
        throw new HttpError(409, `node name "${body.name}" belongs to node ${holder.id.slice(0, 8)}: a node may not take another node's name`, [
          { path: 'name', message: 'taken by another node' },
        ]);
    }
    const node = await store.updateNode(me.id, body, Date.now());
    return { heartbeatTtlMs: ctx.heartbeatTtlMs, stopAfterMs: defaultStopAfterMs(ctx.heartbeatTtlMs), status: node.status };
  });

  on(app, routes.agentHeartbeat, async (req) => {
    const me = requireNode(req.principal);
    // agents before usage reporting send {} (or nothing): still a heartbeat
    const body = parse(heartbeatSchema, req.body ?? {}, 'heartbeat');
    const now = Date.now();
    const node = await store.heartbeat(me.id, now);
    // memory only, no store write: the heartbeat stays the cheap hot path it was
    if (body.usage) usageHistoryFor(store).record(me.id, body.usage, now);
    return { heartbeatTtlMs: ctx.heartbeatTtlMs, stopAfterMs: defaultStopAfterMs(ctx.heartbeatTtlMs), status: node.status };
  });

  const watchQuery = z.object({ index: indexParam, wait: waitParam(300_000) });

  on(app, routes.agentAllocs, async (req) => {
    const me = requireNode(req.principal);
    const q = parse(watchQuery, req.query, 'query');
    if (q.index > 0 && ctx.nodeIndex(me.id) <= q.index && q.wait > 0) {
      const abort = new AbortController();
      req.raw.on('close', () => abort.abort());
      await ctx.waitForNodeChange(me.id, q.index, q.wait, abort.signal);
      // the agent hung up: nobody reads the answer; the server is closing: "nothing changed", ask again
      if (abort.signal.aborted || ctx.closing.aborted) return { index: q.index, allocs: [] };
    }
    const index = Math.max(ctx.nodeIndex(me.id), 1);
    return { index, allocs: await store.agentAllocs(me.id) };
  });

  on(app, routes.agentAllocStatus, async (req) => {
    const me = requireNode(req.principal);
    const body = parse(allocStatusSchema, req.body, 'alloc status report');
    return { index: await store.updateAllocs(me.id, body.updates, Date.now()) };
  });

  on(app, routes.agentShipLogs, async (req) => {
    const me = requireNode(req.principal);
    const body = parse(shipLogsSchema, req.body, 'log shipment');
    return { accepted: await store.appendLogs(me.id, body.chunks) };
  });
}

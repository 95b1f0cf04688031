/**
 * Secrets: put (a new version each time), list (never values), delete; and
 * the agent's fetch of the values one of its live allocs names. No route a
 * user token can call ever answers a value.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { SECRET_NAME_HINT, SECRET_NAME_RE } from '../../secrets/names.js';
import { putSecretSchema } from '../../secrets/secret-schemas.js';
import type { SecretVault } from '../../secrets/vault.js';
import { requireNode, requireUser } from '../auth.js';
import type { ServerContext } from '../context.js';
import { badRequest, parseInput as parse } from '../errors.js';
import { routes } from '../../api/routes.js';
import { on } from '../route.js';

const NAMESPACE_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const listQuery = z.object({ namespace: z.string().max(64).optional() });

function checkRef(namespace: string, name: string): void {
  if (!NAMESPACE_RE.test(namespace))
    throw badRequest(`namespace "${namespace}": lowercase letters, digits, "-" and "_"`, [{ path: 'namespace', message: 'invalid namespace' }]);
  if (!SECRET_NAME_RE.test(name)) throw badRequest(`secret name "${name}": ${SECRET_NAME_HINT}`, [{ path: 'name', message: SECRET_NAME_HINT }]);
}

export function secretRoutes(app: FastifyInstance, ctx: ServerContext, vault: SecretVault): void {
  const { store } = ctx;

  on(app, routes.putSecret, async (req) => {
    const { namespace, name } = req.params;
    requireUser(req.principal, 'submit', namespace);
    checkRef(namespace, name);
    const body = parse(putSecretSchema, req.body, 'secret');
    const info = await vault.put(store, namespace, name, body.data);
    if (info.unchanged) return info;
    // names and versions only: values never reach a log
    ctx.logger.info({ secret: `${namespace}/${name}`, version: info.version, keys: info.keys }, 'secret put');
    return info;
  });

  on(app, routes.listSecrets, async (req) => {
    const q = parse(listQuery, req.query, 'query');
    let ns = q.namespace ?? 'default';
    const token = requireUser(req.principal, 'read', ns);
    // a token of one namespace lists that namespace when it asks for all
    if (ns === '*' && token.namespace !== '*') ns = token.namespace;
    return store.listSecrets(ns);
  });

  on(app, routes.deleteSecret, async (req) => {
    const { namespace, name } = req.params;
    requireUser(req.principal, 'submit', namespace);
    checkRef(namespace, name);
    const info = await store.deleteSecret(namespace, name);
    ctx.logger.info({ secret: `${namespace}/${name}` }, 'secret deleted');
    return info;
  });

  on(app, routes.agentAllocSecrets, async (req) => {
    const me = requireNode(req.principal);
    return vault.forAlloc(store, me.id, req.params.id);
  });
}

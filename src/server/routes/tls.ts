/**
 * The cluster CA for agents that pin it (public: a CA certificate is no
 * secret, and the caller checks its fingerprint), and node certificate renewal.
 */
import type { FastifyInstance } from 'fastify';
import { requireNode } from '../auth.js';
import { HttpError, parseInput as parse } from '../errors.js';
import { serverTlsOf } from '../node-identity.js';
import { nodeCertSchema } from '../schemas.js';
import type { ServerContext } from '../context.js';
import { showFingerprint } from '../../tls/x509.js';
import { routes } from '../../api/routes.js';
import { on } from '../route.js';

export function tlsRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const noTls = (): never => {
    throw new HttpError(404, 'this server runs without TLS (--insecure-http): it has no CA and issues no certificates');
  };

  on(app, routes.agentCa, async () => {
    const tls = serverTlsOf(ctx.store) ?? noTls();
    return { ca: tls.caPem, fingerprint: showFingerprint(tls.fingerprint) };
  });

  on(app, routes.agentCert, async (req) => {
    const me = requireNode(req.principal);
    const tls = serverTlsOf(ctx.store) ?? noTls();
    const body = parse(nodeCertSchema, req.body, 'certificate request');
    let certificate: string;
    try {
      certificate = await tls.issueNode(body.csr, me.id);
    } catch (err) {
      throw new HttpError(400, `csr: ${(err as Error).message}`, [{ path: 'csr', message: (err as Error).message }]);
    }
    ctx.logger.info({ node: me.name, id: me.id }, 'node certificate renewed');
    return { certificate, ca: tls.caPem };
  });
}

/**
 * A join token carries the fingerprint of the CA that the server's certificate
 * chains to, Swarm style: join_<64 hex digits>_<secret>. The agent pins that CA
 * on its first connection; the server authenticates the secret part only
 * (join_<secret>), which is all it stores the hash of.
 */
export interface JoinToken {
  /** sha256 hex of the CA certificate's DER; absent in a token of a plain-HTTP server */
  fingerprint?: string;
  /** what the server authenticates: join_<secret> */
  secret: string;
}

const PINNED = /^join_([0-9a-f]{64})_(.+)$/;

export function parseJoinToken(token: string): JoinToken {
  const m = PINNED.exec(token);
  return m ? { fingerprint: m[1], secret: `join_${m[2]}` } : { secret: token };
}

export function formatJoinToken(secret: string, fingerprint: string | undefined): string {
  if (!fingerprint) return secret;
  return `join_${fingerprint}_${secret.replace(/^join_/, '')}`;
}

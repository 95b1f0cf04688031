/**
 * A client for the server this environment names, found as the CLI finds it:
 * the options, then BATON_ADDR / BATON_TOKEN / BATON_CA_FILE, then the
 * server.json of `./.baton` (or $BATON_DATA_DIR), then the last server started
 * on this machine (~/.config/baton/current.json).
 */
import { BatonClient } from './client.js';

export interface ConnectOptions {
  /** a server URL, or several of one cluster comma-separated */
  addr?: string;
  token?: string;
  /** PEM file of the CA the server's certificate chains to */
  caFile?: string;
}

export async function connect(options: ConnectOptions = {}): Promise<BatonClient> {
  // the CLI's resolution, loaded only by programs that ask for it
  const { resolveConnection } = await import('../cli/config.js');
  const { urls, token, ca, caFingerprint } = resolveConnection(options);
  return new BatonClient({ baseUrl: urls, token, ca, caFingerprint });
}

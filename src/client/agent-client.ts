/**
 * The client of the agent API. Only agents use it: registration with the join
 * token, then every call with the node's own secret and, over TLS, the node's
 * client certificate.
 */
import type {
  AllocSecretsResponse,
  AgentAllocsResponse,
  IndexResponse,
  ShipLogsResponse,
  AllocStatusUpdate,
  HeartbeatRequest,
  HeartbeatResponse,
  LogChunk,
  NodeCertResponse,
  RegisterNodeRequest,
  RegisterNodeResponse,
  ServiceEndpointsResponse,
  UpdateNodeRequest,
} from '../api/types.js';
import { HttpClient, urlList, type StickyUrl } from './http.js';
import { routes, type ResponseOf, type RouteDef } from '../api/routes.js';
import { callRoute, type CallArgs } from './api.js';

/**
 * How long a call other than the blocking watch may take. A call that hangs
 * (a partition drops packets without a reset) must not hold the heartbeat
 * loop: it fails, and the loop tries again well inside the node's TTL.
 */
export const AGENT_CALL_TIMEOUT_MS = 10_000;

/** the CA that verifies the server, and the node's certificate once it has one (PEM) */
export interface AgentTls {
  ca: string;
  cert?: string;
  key?: string;
}

export class AgentClient {
  private http: HttpClient;
  private token: string;
  private tls: AgentTls | undefined;
  /** the servers of the cluster, tried in turn when one is unreachable (http.ts) */
  readonly urls: readonly string[];
  // kept across swaps: a new token or certificate does not send the agent back to a server that was down
  private readonly sticky: StickyUrl = { index: 0 };

  constructor(
    /** one server, or several of one cluster (they share its CA) */
    baseUrl: string | readonly string[],
    /** the join token before registration, the node secret after */
    token: string,
    /** for every call but the blocking watch, whose caller bounds it by its wait; each server tried has this long */
    readonly callTimeoutMs: number = AGENT_CALL_TIMEOUT_MS,
  ) {
    this.urls = urlList(baseUrl);
    this.token = token;
    this.http = new HttpClient({ baseUrl: this.urls, token, sticky: this.sticky });
  }

  /** the server the next call goes to first: the one that answered last */
  get currentUrl(): string {
    return this.http.currentUrl;
  }

  private swap(): void {
    const old = this.http;
    this.http = new HttpClient({ baseUrl: this.urls, token: this.token, ...this.tls, sticky: this.sticky });
    // requests in flight (a blocking query) finish on the old connections, which close after them
    void old.close().catch(() => undefined);
  }

  /** a route of the table, with the call timeout */
  private call<R extends RouteDef>(r: R, args: Partial<CallArgs<R>> = {}, timeoutMs = this.callTimeoutMs): Promise<ResponseOf<R>> {
    return callRoute(this.http, r, { ...args, timeoutMs });
  }

  /** switch to the node secret once registered */
  useToken(token: string): void {
    this.token = token;
    this.swap();
  }

  /** verify the server with this CA and present this certificate from now on (a renewal swaps it in) */
  useTls(tls: AgentTls | undefined): void {
    this.tls = tls;
    this.swap();
  }

  /** with a CSR, the answer carries the node's client certificate */
  register(req: RegisterNodeRequest, csr?: string): Promise<RegisterNodeResponse> {
    return this.call(routes.agentRegister, { body: csr ? { ...req, csr } : req });
  }

  /** a new node certificate for this CSR, asked with the current one */
  renewCert(csr: string): Promise<NodeCertResponse> {
    return this.call(routes.agentCert, { body: { csr } });
  }

  updateNode(req: UpdateNodeRequest): Promise<HeartbeatResponse> {
    return this.call(routes.agentUpdateNode, { body: req });
  }

  /** with the node's and its tasks' usage when the agent has any */
  heartbeat(req: HeartbeatRequest = {}, timeoutMs?: number): Promise<HeartbeatResponse> {
    return this.call(routes.agentHeartbeat, { body: req }, Math.min(timeoutMs ?? this.callTimeoutMs, this.callTimeoutMs));
  }

  /**
   * The node's allocs. With index > 0 the server holds the request until the
   * store's index passes it or waitMs elapses (a blocking query).
   */
  allocs(index: number, waitMs: number, signal?: AbortSignal): Promise<AgentAllocsResponse> {
    return callRoute(this.http, routes.agentAllocs, { query: { index, wait: waitMs }, signal });
  }

  updateAllocs(updates: AllocStatusUpdate[]): Promise<IndexResponse> {
    return this.call(routes.agentAllocStatus, { body: { updates } });
  }

  shipLogs(chunks: LogChunk[]): Promise<ShipLogsResponse> {
    return this.call(routes.agentShipLogs, { body: { chunks } });
  }

  /** the values of the secrets an alloc of this node names */
  allocSecrets(allocId: string): Promise<AllocSecretsResponse> {
    return this.call(routes.agentAllocSecrets, { params: { id: allocId } });
  }

  /** the healthy endpoints of a service, for a task's upstreams */
  serviceEndpoints(name: string, namespace: string): Promise<ServiceEndpointsResponse> {
    return this.call(routes.agentServiceEndpoints, { params: { name }, query: { namespace } });
  }
}

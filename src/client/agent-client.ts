/**
 * The client of the agent API. Only agents use it: registration with the join
 * token, then every call with the node's own secret.
 */
import type {
  AllocSecretsResponse,
  AgentAllocsResponse,
  AllocStatusUpdate,
  HeartbeatRequest,
  HeartbeatResponse,
  LogChunk,
  RegisterNodeRequest,
  RegisterNodeResponse,
  ServiceEndpointsResponse,
  UpdateNodeRequest,
} from '../api/types.js';
import { HttpClient } from './http.js';

export class AgentClient {
  private http: HttpClient;

  constructor(
    readonly baseUrl: string,
    /** the join token before registration, the node secret after */
    token: string,
  ) {
    this.http = new HttpClient({ baseUrl, token });
  }

  /** switch to the node secret once registered */
  useToken(token: string): void {
    this.http = new HttpClient({ baseUrl: this.baseUrl, token });
  }

  register(req: RegisterNodeRequest): Promise<RegisterNodeResponse> {
    return this.http.request('POST', '/v1/agent/register', { body: req });
  }

  updateNode(req: UpdateNodeRequest): Promise<HeartbeatResponse> {
    return this.http.request('PUT', '/v1/agent/node', { body: req });
  }

  /** with the node's and its tasks' usage when the agent has any */
  heartbeat(req: HeartbeatRequest = {}): Promise<HeartbeatResponse> {
    return this.http.request('POST', '/v1/agent/heartbeat', { body: req });
  }

  /**
   * The node's allocs. With index > 0 the server holds the request until the
   * store's index passes it or waitMs elapses (a blocking query).
   */
  allocs(index: number, waitMs: number, signal?: AbortSignal): Promise<AgentAllocsResponse> {
    return this.http.request('GET', '/v1/agent/allocs', { query: { index, wait: waitMs }, signal });
  }

  updateAllocs(updates: AllocStatusUpdate[]): Promise<{ index: number }> {
    return this.http.request('POST', '/v1/agent/allocs/status', { body: { updates } });
  }

  shipLogs(chunks: LogChunk[]): Promise<{ accepted: number }> {
    return this.http.request('POST', '/v1/agent/logs', { body: { chunks } });
  }

  /** the values of the secrets an alloc of this node names */
  allocSecrets(allocId: string): Promise<AllocSecretsResponse> {
    return this.http.request('GET', `/v1/agent/allocs/${encodeURIComponent(allocId)}/secrets`);
  }

  /** the healthy endpoints of a service, for a task's upstreams */
  serviceEndpoints(name: string, namespace: string): Promise<ServiceEndpointsResponse> {
    return this.http.request('GET', `/v1/agent/services/${encodeURIComponent(name)}`, { query: { namespace } });
  }
}

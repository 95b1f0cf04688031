import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatonApiError } from './http.js';
import { AgentClient } from './agent-client.js';
import { isTransient } from '../agent/backoff.js';

describe('AgentClient against a server that never answers (a partition that drops packets)', () => {
  let server: Server;
  let url: string;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    // accepts the connection, reads the request, and says nothing
    server = createServer((s) => {
      sockets.push(s);
      s.resume();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });

  it('fails a heartbeat and a status report after its call timeout, as a transient error the agent retries', async () => {
    const client = new AgentClient(url, 'node_x', 300);
    for (const call of [() => client.heartbeat({}), () => client.updateAllocs([])]) {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(BatonApiError);
      expect((err as BatonApiError).message).toMatch(/did not answer POST \/v1\/agent\/\S+ in time/);
      expect(isTransient(err)).toBe(true);
    }
  });

  it('takes a heartbeat timeout that is not a whole number of milliseconds (a third of a 4 s TTL)', async () => {
    const client = new AgentClient(url, 'node_x', 10_000);
    const err = await client.heartbeat({}, 4000 / 3 / 4).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as BatonApiError).message).toMatch(/did not answer POST \/v1\/agent\/heartbeat in time/);
  });

  it("leaves the blocking watch to its caller's deadline", async () => {
    const client = new AgentClient(url, 'node_x', 100);
    const outcome = await Promise.race([
      client.allocs(5, 60_000).then(
        () => 'answered',
        () => 'failed',
      ),
      new Promise((r) => setTimeout(() => r('still waiting'), 600)),
    ]);
    expect(outcome).toBe('still waiting');
  });
});

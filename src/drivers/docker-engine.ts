/**
 * The little of the Docker Engine API the docker driver speaks, over Node's
 * own http module on the Engine's socket. dockerode (with docker-modem, ssh2
 * and gRPC under it) adds about 28 MB to the agent and takes 170 ms to load;
 * the agent runs on every machine next to the user's memory-hungry work and
 * needs a dozen plain HTTP calls. The shapes follow dockerode's (the types
 * are @types/dockerode's), so the driver reads the same either way.
 *
 * Where the Engine is: DOCKER_HOST (unix:///path or tcp://host:port, plain
 * HTTP), else /var/run/docker.sock. A TLS-protected tcp:// Engine
 * (DOCKER_TLS_VERIFY) is refused with a message: baton does not speak it.
 */
import type Docker from 'dockerode';
import type { IncomingMessage, RequestOptions } from 'node:http';
import { request as httpRequest, Agent } from 'node:http';
import type { Readable } from 'node:stream';

/** an answer other than the one asked for, as dockerode raises it: `statusCode` and the Engine's `json.message` */
export class DockerEngineError extends Error {
  constructor(
    readonly statusCode: number,
    readonly json: { message?: string } | undefined,
    what: string,
  ) {
    super(`(HTTP code ${statusCode}) ${what}${json?.message ? ` - ${json.message}` : ''}`);
    this.name = 'DockerEngineError';
  }
}

export interface EngineAddress {
  socketPath?: string;
  host?: string;
  port?: number;
}

/** where the Engine listens, from DOCKER_HOST as the docker CLI reads it */
export function engineAddress(env: NodeJS.ProcessEnv = process.env): EngineAddress {
  const host = env.DOCKER_HOST;
  if (!host) return { socketPath: '/var/run/docker.sock' };
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
  if (host.startsWith('tcp://') || host.startsWith('http://')) {
    if (env.DOCKER_TLS_VERIFY && env.DOCKER_TLS_VERIFY !== '0') {
      throw new Error(`DOCKER_HOST=${host} with DOCKER_TLS_VERIFY: baton's docker driver speaks to the Engine over its unix socket or plain tcp only`);
    }
    const u = new URL(host.replace(/^tcp:/, 'http:'));
    return { host: u.hostname, port: Number(u.port || 2375) };
  }
  throw new Error(`DOCKER_HOST=${host} is not a unix:// or tcp:// address`);
}

interface Call {
  method: string;
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** the statuses that are an answer; anything else is a DockerEngineError */
  ok: readonly number[];
}

function queryString(query: Call['query']): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) q.set(k, typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

async function readAll(res: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): unknown {
  try {
    return text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Splits the Engine's multiplexed stream (a container without a TTY): frames
 * of an 8-byte header (stream 1 stdout, 2 stderr; a big-endian length) and
 * that many bytes. Each frame is written whole to its sink.
 */
export function demuxStream(stream: NodeJS.ReadableStream, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): void {
  let buf: Buffer = Buffer.alloc(0);
  stream.on('data', (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    while (buf.length >= 8) {
      const len = buf.readUInt32BE(4);
      if (buf.length < 8 + len) break;
      const frame = buf.subarray(8, 8 + len);
      (buf[0] === 2 ? stderr : stdout).write(frame);
      buf = buf.subarray(8 + len);
    }
  });
}

export class EngineExec {
  constructor(
    private readonly engine: DockerEngine,
    readonly id: string,
  ) {}

  /** runs it and answers its output stream (multiplexed) */
  async start(_opts: { hijack: boolean; stdin: boolean }): Promise<Readable & { destroy(): void }> {
    return this.engine.stream({ method: 'POST', path: `/exec/${this.id}/start`, body: { Detach: false, Tty: false }, ok: [200, 101] });
  }

  inspect(): Promise<Docker.ExecInspectInfo> {
    return this.engine.json({ method: 'GET', path: `/exec/${this.id}/json`, ok: [200] });
  }
}

export class EngineContainer {
  constructor(
    private readonly engine: DockerEngine,
    readonly id: string,
  ) {}

  private get path(): string {
    return `/containers/${encodeURIComponent(this.id)}`;
  }

  inspect(): Promise<Docker.ContainerInspectInfo> {
    return this.engine.json({ method: 'GET', path: `${this.path}/json`, ok: [200] });
  }

  async start(): Promise<void> {
    // 304: already started, which dockerode (and so the driver) treats as an error to look at
    await this.engine.json({ method: 'POST', path: `${this.path}/start`, ok: [204] });
  }

  stats(opts: { stream: false; 'one-shot'?: boolean }): Promise<Docker.ContainerStats> {
    return this.engine.json({ method: 'GET', path: `${this.path}/stats`, query: { stream: opts.stream, 'one-shot': opts['one-shot'] }, ok: [200] });
  }

  /** blocks until the container is not running (or is removed, with condition) */
  wait(opts: { condition?: 'not-running' | 'next-exit' | 'removed' } = {}): Promise<{ StatusCode: number }> {
    return this.engine.json({ method: 'POST', path: `${this.path}/wait`, query: { condition: opts.condition }, ok: [200] }, { untimed: true });
  }

  async kill(opts: { signal?: string } = {}): Promise<void> {
    await this.engine.json({ method: 'POST', path: `${this.path}/kill`, query: { signal: opts.signal }, ok: [204] });
  }

  async remove(opts: { force?: boolean } = {}): Promise<void> {
    await this.engine.json({ method: 'DELETE', path: this.path, query: { force: opts.force }, ok: [204] });
  }

  /** the container's output, multiplexed; with follow, until it ends or is destroyed */
  logs(opts: { follow?: boolean; stdout?: boolean; stderr?: boolean; timestamps?: boolean; since?: string | number }): Promise<Readable & { destroy(): void }> {
    return this.engine.stream({
      method: 'GET',
      path: `${this.path}/logs`,
      query: { follow: opts.follow, stdout: opts.stdout, stderr: opts.stderr, timestamps: opts.timestamps, since: opts.since },
      ok: [200],
    });
  }

  async exec(opts: { Cmd: string[]; AttachStdout: boolean; AttachStderr: boolean; AttachStdin: boolean; Tty: boolean }): Promise<EngineExec> {
    const r = await this.engine.json<{ Id: string }>({ method: 'POST', path: `${this.path}/exec`, body: opts, ok: [201] });
    return new EngineExec(this.engine, r.Id);
  }
}

/** `name:tag` (or a digest) as the Engine's pull wants it: a name alone pulls `latest`, not every tag */
export function pullQuery(image: string): { fromImage: string; tag?: string } {
  if (image.includes('@')) return { fromImage: image };
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  if (colon > slash) return { fromImage: image.slice(0, colon), tag: image.slice(colon + 1) };
  return { fromImage: image, tag: 'latest' };
}

export class DockerEngine {
  private readonly address: EngineAddress | Error;
  private readonly agent = new Agent({ keepAlive: true });

  constructor(address?: EngineAddress) {
    // a DOCKER_HOST baton cannot use makes the driver unhealthy (its fingerprint says why), not the agent fail
    try {
      this.address = address ?? engineAddress();
    } catch (err) {
      this.address = err as Error;
    }
  }

  /** dockerode's `modem`: the two stream helpers the driver uses */
  readonly modem = {
    demuxStream,
    followProgress: (stream: Readable, done: (err: Error | null, out: Array<{ error?: string }>) => void): void => {
      const out: Array<{ error?: string }> = [];
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        rest += chunk;
        let nl: number;
        while ((nl = rest.indexOf('\n')) >= 0) {
          const line = rest.slice(0, nl).trim();
          rest = rest.slice(nl + 1);
          const event = line ? parseJson(line) : undefined;
          if (event && typeof event === 'object') out.push(event);
        }
      });
      stream.on('end', () => {
        const last = rest.trim() ? parseJson(rest.trim()) : undefined;
        if (last && typeof last === 'object') out.push(last);
        done(null, out);
      });
      stream.on('error', (err) => done(err, out));
    },
  };

  private send(call: Call, untimed = false): Promise<IncomingMessage> {
    if (this.address instanceof Error) return Promise.reject(this.address);
    const body = call.body === undefined ? undefined : JSON.stringify(call.body);
    const options: RequestOptions = {
      ...this.address,
      agent: this.agent,
      method: call.method,
      path: `${call.path}${queryString(call.query)}`,
      headers: body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    };
    return new Promise((resolve, reject) => {
      const req = httpRequest(options, resolve);
      req.on('error', reject);
      // a call that is not a wait or a stream is answered in seconds by a working Engine
      if (!untimed)
        req.setTimeout(120_000, () =>
          req.destroy(Object.assign(new Error(`the Docker Engine did not answer ${call.method} ${call.path} in 2 minutes`), { code: 'ETIMEDOUT' })),
        );
      req.end(body);
    });
  }

  private async check(call: Call, res: IncomingMessage): Promise<void> {
    if (call.ok.includes(res.statusCode ?? 0)) return;
    const text = await readAll(res).catch(() => '');
    const json = parseJson(text) as { message?: string } | undefined;
    const what =
      res.statusCode === 404
        ? 'no such container or image'
        : res.statusCode === 304
          ? 'container already started'
          : res.statusCode === 409
            ? 'conflict'
            : 'unexpected answer';
    throw new DockerEngineError(res.statusCode ?? 0, json ?? (text ? { message: text.trim() } : undefined), what);
  }

  /** a call whose answer is JSON (or nothing) */
  async json<T>(call: Call, opts: { untimed?: boolean } = {}): Promise<T> {
    const res = await this.send(call, opts.untimed);
    await this.check(call, res);
    return parseJson(await readAll(res)) as T;
  }

  /** a call whose answer is a stream, left open for the caller */
  async stream(call: Call): Promise<Readable & { destroy(): void }> {
    const res = await this.send(call, true);
    await this.check(call, res);
    return res;
  }

  version(): Promise<Docker.DockerVersion> {
    return this.json({ method: 'GET', path: '/version', ok: [200] });
  }

  getContainer(id: string): EngineContainer {
    return new EngineContainer(this, id);
  }

  getImage(name: string): { inspect(): Promise<Docker.ImageInspectInfo> } {
    return { inspect: () => this.json({ method: 'GET', path: `/images/${encodeURIComponent(name)}/json`, ok: [200] }) };
  }

  async createContainer(opts: Docker.ContainerCreateOptions): Promise<EngineContainer> {
    const { name, ...spec } = opts;
    const r = await this.json<{ Id: string }>({ method: 'POST', path: '/containers/create', query: { name }, body: spec, ok: [201] });
    return new EngineContainer(this, r.Id);
  }

  pull(image: string): Promise<Readable> {
    return this.stream({ method: 'POST', path: '/images/create', query: pullQuery(image), ok: [200] });
  }

  listContainers(opts: { all?: boolean; filters?: Record<string, string[]> } = {}): Promise<Docker.ContainerInfo[]> {
    return this.json({
      method: 'GET',
      path: '/containers/json',
      query: { all: opts.all, filters: opts.filters ? JSON.stringify(opts.filters) : undefined },
      ok: [200],
    });
  }

  /** closes the idle connections to the Engine */
  close(): void {
    this.agent.destroy();
  }
}

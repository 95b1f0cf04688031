import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { demuxStream, engineAddress, pullQuery } from './docker-engine.js';

function frame(stream: 1 | 2, text: string): Buffer {
  const body = Buffer.from(text);
  const head = Buffer.alloc(8);
  head[0] = stream;
  head.writeUInt32BE(body.length, 4);
  return Buffer.concat([head, body]);
}

describe('the Docker Engine client', () => {
  it('splits a multiplexed stream into whole frames, however the bytes arrive', () => {
    const raw = new PassThrough();
    const out: string[] = [];
    const err: string[] = [];
    const sink = (to: string[]) => Object.assign(new PassThrough(), { write: (b: Buffer) => (to.push(b.toString()), true) });
    demuxStream(raw, sink(out), sink(err));
    const bytes = Buffer.concat([frame(1, 'one\n'), frame(2, 'oops\n'), frame(1, 'x'.repeat(70_000))]);
    // one byte at a time across a header, then the rest in odd pieces
    for (let i = 0; i < 11; i++) raw.write(bytes.subarray(i, i + 1));
    for (let i = 11; i < bytes.length; i += 997) raw.write(bytes.subarray(i, Math.min(bytes.length, i + 997)));
    expect(out).toEqual(['one\n', 'x'.repeat(70_000)]);
    expect(err).toEqual(['oops\n']);
  });

  it('pulls the tag named, latest for a bare name, and a digest as given', () => {
    expect(pullQuery('busybox')).toEqual({ fromImage: 'busybox', tag: 'latest' });
    expect(pullQuery('registry.local:5000/team/app:1.2')).toEqual({ fromImage: 'registry.local:5000/team/app', tag: '1.2' });
    expect(pullQuery('registry.local:5000/team/app')).toEqual({ fromImage: 'registry.local:5000/team/app', tag: 'latest' });
    expect(pullQuery('app@sha256:abc')).toEqual({ fromImage: 'app@sha256:abc' });
  });

  it('finds the Engine as the docker CLI does, and says why it cannot use one', () => {
    expect(engineAddress({})).toEqual({ socketPath: '/var/run/docker.sock' });
    expect(engineAddress({ DOCKER_HOST: 'unix:///run/user/1000/docker.sock' })).toEqual({ socketPath: '/run/user/1000/docker.sock' });
    expect(engineAddress({ DOCKER_HOST: 'tcp://10.0.0.5:2375' })).toEqual({ host: '10.0.0.5', port: 2375 });
    expect(() => engineAddress({ DOCKER_HOST: 'tcp://10.0.0.5:2376', DOCKER_TLS_VERIFY: '1' })).toThrow(/unix socket or plain tcp only/);
    expect(() => engineAddress({ DOCKER_HOST: 'ssh://me@host' })).toThrow(/not a unix:\/\/ or tcp:\/\/ address/);
  });
});

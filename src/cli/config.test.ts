import { mkdtempSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_URL, NO_TOKEN_HINT, resolveConnection, writeCurrentServerFile, type ConfigEnv } from './config.js';

let root: string;
let ctx: ConfigEnv;

function writeJson(path: string, value: unknown): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, JSON.stringify(value));
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'baton-cli-config-'));
  mkdirSync(join(root, 'home'));
  mkdirSync(join(root, 'work'));
  ctx = { env: {}, cwd: join(root, 'work'), home: join(root, 'home') };
});

const serverJson = () => join(root, 'work', '.baton', 'server.json');
const currentJson = () => join(root, 'home', '.config', 'baton', 'current.json');

describe('resolveConnection', () => {
  it('without any source, uses the default url and asks for a token', () => {
    expect(() => resolveConnection({}, ctx)).toThrow(NO_TOKEN_HINT);
    expect(resolveConnection({}, ctx, false)).toEqual({ url: DEFAULT_URL, token: undefined });
  });

  it('the error without a token names --token, BATON_TOKEN and .baton/server.json', () => {
    expect(() => resolveConnection({}, ctx)).toThrow(/--token.*BATON_TOKEN.*\.baton\/server\.json/);
  });

  it('reads ~/.config/baton/current.json when nothing else is given', () => {
    writeJson(currentJson(), { url: 'http://home:1', joinToken: 'j', adminToken: 'home-admin' });
    expect(resolveConnection({}, ctx)).toEqual({ url: 'http://home:1', token: 'home-admin' });
  });

  it('./.baton/server.json wins over current.json, as a whole', () => {
    writeJson(currentJson(), { url: 'http://home:1', adminToken: 'home-admin' });
    writeJson(serverJson(), { url: 'http://local:2' });
    // the local file has no token: the home file's token must not be paired with the local url
    expect(() => resolveConnection({}, ctx)).toThrow(NO_TOKEN_HINT);
    writeJson(serverJson(), { url: 'http://local:2', adminToken: 'local-admin' });
    expect(resolveConnection({}, ctx)).toEqual({ url: 'http://local:2', token: 'local-admin' });
  });

  it('BATON_DATA_DIR names the directory of server.json, relative to cwd', () => {
    writeJson(join(root, 'work', 'data', 'server.json'), { url: 'http://data:3', adminToken: 'data-admin' });
    writeJson(serverJson(), { url: 'http://local:2', adminToken: 'local-admin' });
    ctx.env.BATON_DATA_DIR = 'data';
    expect(resolveConnection({}, ctx)).toEqual({ url: 'http://data:3', token: 'data-admin' });
  });

  it('env wins over files; a saved token goes only to its own server', () => {
    writeJson(serverJson(), { url: 'http://local:2', adminToken: 'local-admin' });
    ctx.env.BATON_ADDR = 'http://local:2/';
    expect(resolveConnection({}, ctx)).toEqual({ url: 'http://local:2', token: 'local-admin' });
    ctx.env.BATON_ADDR = 'http://env:4';
    ctx.env.BATON_TOKEN = 'env-token';
    expect(resolveConnection({}, ctx)).toEqual({ url: 'http://env:4', token: 'env-token' });
  });

  it('never sends the token saved for one server to another --addr (regression)', () => {
    writeJson(currentJson(), { url: 'https://home:1', adminToken: 'home-admin', ca: 'PEM' });
    expect(() => resolveConnection({ addr: 'https://evil.example:4780' }, ctx)).toThrow(/belongs to https:\/\/home:1, not https:\/\/evil.example:4780.*--token/);
    ctx.env.BATON_ADDR = 'https://evil.example:4780';
    expect(() => resolveConnection({}, ctx)).toThrow(/belongs to https:\/\/home:1/);
    // nor its CA: the other server is trusted by what the user gives for it
    expect(resolveConnection({ token: 't' }, ctx)).toEqual({ url: 'https://evil.example:4780', token: 't' });
    delete ctx.env.BATON_ADDR;
    expect(resolveConnection({}, ctx)).toEqual({ url: 'https://home:1', token: 'home-admin', ca: 'PEM' });
  });

  it('trusts the CA of the saved server by its file or fingerprint, or --ca-file / BATON_CA_FILE', () => {
    const fp = 'ab'.repeat(32);
    writeJson(serverJson(), { url: 'https://local:2', adminToken: 'a', caFingerprint: `sha256:${fp}`, caFile: join(root, 'missing.pem') });
    expect(resolveConnection({}, ctx)).toEqual({ url: 'https://local:2', token: 'a', caFingerprint: fp });
    const pem = join(root, 'ca.pem');
    writeFileSync(pem, 'CA PEM');
    ctx.env.BATON_CA_FILE = pem;
    expect(resolveConnection({}, ctx).ca).toBe('CA PEM');
    expect(() => resolveConnection({ caFile: join(root, 'nope.pem') }, ctx)).toThrow(/cannot read the CA file .*nope.pem \(--ca-file\)/);
  });

  it('flags win over env and files', () => {
    writeJson(serverJson(), { url: 'http://local:2', adminToken: 'local-admin' });
    ctx.env.BATON_ADDR = 'http://env:4';
    ctx.env.BATON_TOKEN = 'env-token';
    expect(resolveConnection({ addr: 'http://flag:5', token: 'flag-token' }, ctx)).toEqual({
      url: 'http://flag:5',
      token: 'flag-token',
    });
    expect(resolveConnection({ token: 'flag-token' }, ctx)).toEqual({ url: 'http://env:4', token: 'flag-token' });
  });

  it('accepts host:port and drops trailing slashes', () => {
    expect(resolveConnection({ addr: '10.0.0.1:4780', token: 't' }, ctx).url).toBe('https://10.0.0.1:4780');
    expect(resolveConnection({ addr: 'https://b.example/', token: 't' }, ctx).url).toBe('https://b.example');
  });

  it('a broken server.json is an error that names the file', () => {
    mkdirSync(join(root, 'work', '.baton'));
    writeFileSync(serverJson(), '{ not json');
    expect(() => resolveConnection({}, ctx)).toThrow(serverJson());
    writeJson(serverJson(), { adminToken: 'x' });
    expect(() => resolveConnection({}, ctx)).toThrow(/no "url"/);
  });
});

describe('writeCurrentServerFile', () => {
  it('writes current.json readable only by the user, and resolveConnection finds it', () => {
    const path = writeCurrentServerFile({ url: 'http://127.0.0.1:4780', joinToken: 'j', adminToken: 'a' }, ctx.home);
    expect(path).toBe(currentJson());
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ url: 'http://127.0.0.1:4780', joinToken: 'j', adminToken: 'a' });
    expect(resolveConnection({}, ctx)).toEqual({ url: 'http://127.0.0.1:4780', token: 'a' });
  });

  it('replaces an older file', () => {
    writeCurrentServerFile({ url: 'http://old:1', adminToken: 'old' }, ctx.home);
    writeCurrentServerFile({ url: 'http://new:2', adminToken: 'new' }, ctx.home);
    expect(resolveConnection({}, ctx)).toEqual({ url: 'http://new:2', token: 'new' });
  });
});

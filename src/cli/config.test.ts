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
    expect(resolveConnection({}, ctx, false)).toEqual({ urls: [DEFAULT_URL], token: undefined });
  });

  it('the error without a token names --token, BATON_TOKEN and .baton/server.json', () => {
    expect(() => resolveConnection({}, ctx)).toThrow(/--token.*BATON_TOKEN.*\.baton\/server\.json/);
  });

  it('reads ~/.config/baton/current.json when nothing else is given', () => {
    writeJson(currentJson(), { url: 'http://home:1', joinToken: 'j', adminToken: 'home-admin' });
    expect(resolveConnection({}, ctx)).toEqual({ urls: ['http://home:1'], token: 'home-admin' });
  });

  it('./.baton/server.json wins over current.json, as a whole', () => {
    writeJson(currentJson(), { url: 'http://home:1', adminToken: 'home-admin' });
    writeJson(serverJson(), { url: 'http://local:2' });
    // the local file has no token: the home file's token must not be paired with the local url
    expect(() => resolveConnection({}, ctx)).toThrow(NO_TOKEN_HINT);
    writeJson(serverJson(), { url: 'http://local:2', adminToken: 'local-admin' });
    expect(resolveConnection({}, ctx)).toEqual({ urls: ['http://local:2'], token: 'local-admin' });
  });

  it('BATON_DATA_DIR names the directory of server.json, relative to cwd', () => {
    writeJson(join(root, 'work', 'data', 'server.json'), { url: 'http://data:3', adminToken: 'data-admin' });
    writeJson(serverJson(), { url: 'http://local:2', adminToken: 'local-admin' });
    ctx.env.BATON_DATA_DIR = 'data';
    expect(resolveConnection({}, ctx)).toEqual({ urls: ['http://data:3'], token: 'data-admin' });
  });

  it('env wins over files; a saved token goes only to its own server', () => {
    writeJson(serverJson(), { url: 'http://local:2', adminToken: 'local-admin' });
    ctx.env.BATON_ADDR = 'http://local:2/';
    expect(resolveConnection({}, ctx)).toEqual({ urls: ['http://local:2'], token: 'local-admin' });
    ctx.env.BATON_ADDR = 'http://env:4';
    ctx.env.BATON_TOKEN = 'env-token';
    expect(resolveConnection({}, ctx)).toEqual({ urls: ['http://env:4'], token: 'env-token' });
  });

  it('never sends the token saved for one server to another --addr (regression)', () => {
    writeJson(currentJson(), { url: 'https://home:1', adminToken: 'home-admin', ca: 'PEM' });
    expect(() => resolveConnection({ addr: 'https://evil.example:4780' }, ctx)).toThrow(
      /belongs to https:\/\/home:1, not https:\/\/evil.example:4780.*--token/,
    );
    ctx.env.BATON_ADDR = 'https://evil.example:4780';
    expect(() => resolveConnection({}, ctx)).toThrow(/belongs to https:\/\/home:1/);
    // nor its CA: the other server is trusted by what the user gives for it
    expect(resolveConnection({ token: 't' }, ctx)).toEqual({ urls: ['https://evil.example:4780'], token: 't' });
    delete ctx.env.BATON_ADDR;
    expect(resolveConnection({}, ctx)).toEqual({ urls: ['https://home:1'], token: 'home-admin', ca: 'PEM' });
  });

  it('trusts the CA of the saved server by its file or fingerprint, or --ca-file / BATON_CA_FILE', () => {
    const fp = 'ab'.repeat(32);
    writeJson(serverJson(), { url: 'https://local:2', adminToken: 'a', caFingerprint: `sha256:${fp}`, caFile: join(root, 'missing.pem') });
    expect(resolveConnection({}, ctx)).toEqual({ urls: ['https://local:2'], token: 'a', caFingerprint: fp });
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
      urls: ['http://flag:5'],
      token: 'flag-token',
    });
    expect(resolveConnection({ token: 'flag-token' }, ctx)).toEqual({ urls: ['http://env:4'], token: 'flag-token' });
  });

  it('accepts host:port and drops trailing slashes', () => {
    expect(resolveConnection({ addr: '10.0.0.1:4780', token: 't' }, ctx).urls).toEqual(['https://10.0.0.1:4780']);
    expect(resolveConnection({ addr: 'https://b.example/', token: 't' }, ctx).urls).toEqual(['https://b.example']);
  });

  it('--addr and BATON_ADDR take a comma-separated list, each URL normalized, in order, without repeats', () => {
    expect(resolveConnection({ addr: 'https://a:4780/, b:4780 ,http://c:1//,,https://a:4780', token: 't' }, ctx).urls).toEqual([
      'https://a:4780',
      'https://b:4780',
      'http://c:1',
    ]);
    ctx.env.BATON_ADDR = 'a:1,b:2';
    expect(resolveConnection({ token: 't' }, ctx).urls).toEqual(['https://a:1', 'https://b:2']);
    expect(() => resolveConnection({ addr: ' , ', token: 't' }, ctx)).toThrow(/--addr " , " names no server URL/);
    ctx.env.BATON_ADDR = ',';
    expect(() => resolveConnection({ token: 't' }, ctx)).toThrow(/BATON_ADDR "," names no server URL/);
  });

  it('sends a saved token to a list only when the list is the saved server (regression: never to another)', () => {
    writeJson(serverJson(), { url: 'https://a:4780', adminToken: 'admin', ca: 'PEM' });
    // the saved server, spelled otherwise and twice, is still only the saved server
    expect(resolveConnection({ addr: 'a:4780,https://a:4780/' }, ctx)).toEqual({ urls: ['https://a:4780'], token: 'admin', ca: 'PEM' });
    // one URL more, and the token (and CA) stay home
    expect(() => resolveConnection({ addr: 'https://a:4780,https://evil.example:4780' }, ctx)).toThrow(
      /admin token saved in .*server.json belongs to https:\/\/a:4780, not https:\/\/evil.example:4780.*--token/,
    );
    ctx.env.BATON_ADDR = 'https://evil.example:4780,https://a:4780';
    expect(() => resolveConnection({}, ctx)).toThrow(/belongs to https:\/\/a:4780, not https:\/\/evil.example:4780/);
    expect(resolveConnection({ token: 't' }, ctx)).toEqual({ urls: ['https://evil.example:4780', 'https://a:4780'], token: 't' });
  });

  it('a saved file may name several servers of one cluster (urls): any of them takes its token and CA, none other', () => {
    writeJson(serverJson(), { url: 'https://a:4780', urls: ['https://a:4780', 'b:4780', 'https://c:4780/'], adminToken: 'admin', ca: 'PEM' });
    // without --addr: all of them, the file's url first
    expect(resolveConnection({}, ctx)).toEqual({ urls: ['https://a:4780', 'https://b:4780', 'https://c:4780'], token: 'admin', ca: 'PEM' });
    expect(resolveConnection({ addr: 'https://c:4780,https://b:4780' }, ctx)).toEqual({
      urls: ['https://c:4780', 'https://b:4780'],
      token: 'admin',
      ca: 'PEM',
    });
    expect(resolveConnection({ addr: 'https://b:4780' }, ctx)).toEqual({ urls: ['https://b:4780'], token: 'admin', ca: 'PEM' });
    expect(() => resolveConnection({ addr: 'https://b:4780,https://d:4780' }, ctx)).toThrow(
      /belongs to https:\/\/a:4780, https:\/\/b:4780, https:\/\/c:4780, not https:\/\/d:4780/,
    );
    writeJson(serverJson(), { url: 'https://a:4780', urls: 'https://b:4780', adminToken: 'admin' });
    expect(() => resolveConnection({}, ctx)).toThrow(/"urls" that is not a list of strings/);
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
    expect(resolveConnection({}, ctx)).toEqual({ urls: ['http://127.0.0.1:4780'], token: 'a' });
  });

  it('replaces an older file', () => {
    writeCurrentServerFile({ url: 'http://old:1', adminToken: 'old' }, ctx.home);
    writeCurrentServerFile({ url: 'http://new:2', adminToken: 'new' }, ctx.home);
    expect(resolveConnection({}, ctx)).toEqual({ urls: ['http://new:2'], token: 'new' });
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import type { NetworkInterfaceInfo } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultAddress, parsePortRange, parseVolumeFlag, parseVolumeFlags } from './fingerprint.js';

const v4 = (address: string, internal = false): NetworkInterfaceInfo => ({
  address,
  netmask: '255.255.255.0',
  family: 'IPv4',
  mac: '00:00:00:00:00:00',
  internal,
  cidr: `${address}/24`,
});
const v6 = (address: string): NetworkInterfaceInfo => ({
  address,
  netmask: 'ffff::',
  family: 'IPv6',
  mac: '00:00:00:00:00:00',
  internal: false,
  cidr: `${address}/64`,
  scopeid: 0,
});

describe('defaultAddress', () => {
  it('skips loopback, IPv6 and the bridges container runtimes make', () => {
    expect(defaultAddress({ lo: [v4('127.0.0.1', true)], docker0: [v4('172.17.0.1')], eth0: [v6('fd00::2'), v4('192.0.2.2')] })).toBe('192.0.2.2');
  });
  it('takes a bridge address when there is nothing else, and loopback when there is nothing at all', () => {
    expect(defaultAddress({ lo: [v4('127.0.0.1', true)], docker0: [v4('172.17.0.1')] })).toBe('172.17.0.1');
    expect(defaultAddress({ lo: [v4('127.0.0.1', true)] })).toBe('127.0.0.1');
  });
});

describe('--volume', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'baton-volume-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('parses name=/path with an optional :ro or :rw, relative paths against cwd', () => {
    expect(parseVolumeFlag('site=/tmp/x:ro')).toEqual(['site', { path: '/tmp/x', readOnly: true }]);
    expect(parseVolumeFlag('data=/srv/data')).toEqual(['data', { path: '/srv/data', readOnly: false }]);
    expect(parseVolumeFlag('data=/srv/data:rw')).toEqual(['data', { path: '/srv/data', readOnly: false }]);
    expect(parseVolumeFlag('d=rel/dir', '/home/u')).toEqual(['d', { path: '/home/u/rel/dir', readOnly: false }]);
  });

  it('rejects what is not name=/path', () => {
    expect(() => parseVolumeFlag('/tmp/x')).toThrow('--volume "/tmp/x" is not name=/path[:ro] (e.g. --volume data=/srv/data:ro)');
    expect(() => parseVolumeFlag('site=')).toThrow(/is not name=\/path/);
    expect(() => parseVolumeFlag('a b=/x')).toThrow(/may only hold letters/);
  });

  it('checks that each path exists, and that no name is given twice', async () => {
    await expect(parseVolumeFlags([`site=${dir}:ro`])).resolves.toEqual({ site: { path: dir, readOnly: true } });
    await expect(parseVolumeFlags([`site=${dir}/missing`])).rejects.toThrow(
      `--volume site: ${dir}/missing does not exist on this machine; create it first or fix the path`,
    );
    await expect(parseVolumeFlags([`a=${dir}`, `a=${dir}`])).rejects.toThrow('--volume a is given twice');
  });
});

describe('--port-range', () => {
  it('parses from-to and rejects reversed or out-of-range ports', () => {
    expect(parsePortRange('20000-32000')).toEqual({ from: 20000, to: 32000 });
    expect(parsePortRange(' 8000 - 8000 ')).toEqual({ from: 8000, to: 8000 });
    expect(() => parsePortRange('32000-20000')).toThrow(/first not above the second/);
    expect(() => parsePortRange('0-10')).toThrow(/within 1-65535/);
    expect(() => parsePortRange('1-70000')).toThrow(/within 1-65535/);
    expect(() => parsePortRange('20000')).toThrow('--port-range "20000" is not from-to (e.g. 20000-32000)');
  });
});

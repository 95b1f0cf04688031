import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { formatLogLine, prettyDestination, resolveLogFormat } from './logger.js';

const at = Date.UTC(2026, 11, 2, 18, 53, 2, 117);
const utc = { localTime: false };

describe('readable log lines', () => {
  it('puts time, level, name and message first, then the other fields as key=value', () => {
    const line = JSON.stringify({ level: 30, time: at, pid: 7, hostname: 'vm', name: 'server', nodeId: 'n-1', count: 3, ok: true, msg: 'node registered' });
    expect(formatLogLine(line, utc)).toBe('18:53:02.117 INFO  server: node registered nodeId=n-1 count=3 ok=true\n');
  });

  it('quotes strings with spaces or quotes and writes objects as JSON', () => {
    const line = JSON.stringify({
      level: 40,
      time: at,
      name: 'agent',
      msg: 'x',
      detail: 'Docker Engine 27 (API 1.47)',
      quote: 'a"b',
      empty: '',
      range: { from: 1, to: 2 },
      list: [],
    });
    expect(formatLogLine(line, utc)).toBe(
      '18:53:02.117 WARN  agent: x detail="Docker Engine 27 (API 1.47)" quote="a\\"b" empty="" range={"from":1,"to":2} list=[]\n',
    );
  });

  it("prints an error's message as a field and its stack on the lines after", () => {
    const line = JSON.stringify({
      level: 50,
      time: at,
      name: 'server',
      msg: 'plan failed',
      err: { type: 'Error', message: 'disk full', stack: 'Error: disk full\n    at apply (store.ts:1:1)\n    at run (worker.ts:2:2)' },
    });
    expect(formatLogLine(line, utc)).toBe('18:53:02.117 ERROR server: plan failed err="disk full"\n    at apply (store.ts:1:1)\n    at run (worker.ts:2:2)\n');
  });

  it('colours the level only when asked', () => {
    const line = JSON.stringify({ level: 60, time: at, msg: 'gone' });
    expect(formatLogLine(line, { ...utc, color: true })).toBe('18:53:02.117 \x1b[35mFATAL\x1b[0m gone\n');
  });

  it('passes a line that is not a JSON object as it is', () => {
    expect(formatLogLine('not json', utc)).toBe('not json\n');
    expect(formatLogLine('[1,2]\n', utc)).toBe('[1,2]\n');
  });

  it('formats what pino writes, child names included (the last name wins)', () => {
    const out: string[] = [];
    const log = pino({ name: 'dev', level: 'info' }, prettyDestination({ write: (s: string) => out.push(s) }, utc));
    log.child({ name: 'agent' }).info({ allocId: 'a-1' }, 'starting alloc');
    log.debug('not shown');
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}agent: starting alloc allocId=a-1\n$/);
  });
});

describe('the log format', () => {
  it('is pretty on a terminal and JSON otherwise, unless --log-format or BATON_LOG_FORMAT says', () => {
    expect(resolveLogFormat(undefined, {}, true)).toBe('pretty');
    expect(resolveLogFormat(undefined, {}, false)).toBe('json');
    expect(resolveLogFormat(undefined, { BATON_LOG_FORMAT: 'json' }, true)).toBe('json');
    expect(resolveLogFormat(undefined, { BATON_LOG_FORMAT: 'pretty' }, false)).toBe('pretty');
    expect(resolveLogFormat('json', { BATON_LOG_FORMAT: 'pretty' }, true)).toBe('json');
    expect(() => resolveLogFormat(undefined, { BATON_LOG_FORMAT: 'xml' }, true)).toThrow('BATON_LOG_FORMAT is pretty or json, not "xml"');
  });
});

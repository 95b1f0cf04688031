import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { renderTable } from './output.js';
import { JsonArrayText, JsonObjectText, TableText, streamSink } from './stream-out.js';

function streamArray(items: unknown[], depth = 0): string {
  const a = new JsonArrayText(depth);
  return a.open() + items.map((x) => a.item(x)).join('') + a.close();
}

describe('JsonArrayText', () => {
  it('writes the same text as JSON.stringify(items, null, 2), piece by piece', () => {
    for (const items of [[], [1], [{ a: 1, b: { c: [1, 2] } }, { a: 'x\ny' }], [[], {}, null, 'a']]) {
      expect(streamArray(items)).toBe(JSON.stringify(items, null, 2));
    }
  });
  it('counts the items written', () => {
    const a = new JsonArrayText();
    a.item(1);
    a.item(2);
    expect(a.count).toBe(2);
  });
});

describe('JsonObjectText', () => {
  it('writes fields and a streamed array like JSON.stringify of the whole object', () => {
    const whole = { job: { id: 'sim', runs: { total: 3 } }, runs: [{ i: 1 }, { i: 2, meta: { a: 'b' } }], total: 2 };
    const o = new JsonObjectText();
    let text = o.open() + o.field('job', whole.job) + o.field('skipped', undefined);
    const { text: key, array } = o.arrayField('runs');
    text += key + array.open() + whole.runs.map((r) => array.item(r)).join('') + array.close();
    text += o.field('total', 2) + o.close();
    expect(text).toBe(JSON.stringify(whole, null, 2));
  });
  it('writes an empty object and an empty array', () => {
    const o = new JsonObjectText();
    expect(o.open() + o.close()).toBe('{}');
    const p = new JsonObjectText();
    const { text, array } = p.arrayField('runs');
    expect(p.open() + text + array.open() + array.close() + p.close()).toBe(JSON.stringify({ runs: [] }, null, 2));
  });
});

describe('TableText', () => {
  const headers = ['ID', 'STATUS', 'DESCRIPTION'];
  const rows = [
    ['a', 'running', ''],
    ['longer-id', 'failed', 'exit code 1'],
    [3, '', 'x'],
  ];
  it('prints one page exactly as renderTable does', () => {
    expect(new TableText(headers).page(rows)).toBe(renderTable(headers, rows) + '\n');
  });
  it('keeps the first page’s widths for later pages; a wider cell pushes only its row', () => {
    const t = new TableText(headers);
    const first = t.page([['a', 'running', 'ok']]).split('\n');
    const second = t
      .page([
        ['b', 'failed', 'exit 1'],
        ['very-long-id', 'x', 'y'],
      ])
      .split('\n');
    const col = first[0].indexOf('STATUS');
    expect(first[1].indexOf('running')).toBe(col);
    expect(second[0].indexOf('failed')).toBe(col);
    expect(second[1]).toBe(`very-long-id   ${'x'.padEnd(10)}y`);
    expect(t.page([])).toBe('');
  });
  it('prints the header for an empty first page, and keeps multi-line cells on one line', () => {
    expect(new TableText(['A', 'B']).page([])).toBe('A   B\n');
    expect(new TableText(['A']).page([['x\ny']])).toBe('A\nx y\n');
  });
});

describe('streamSink', () => {
  class SlowStream extends EventEmitter {
    written: string[] = [];
    full = false;
    write(t: string): boolean {
      this.written.push(t);
      return !this.full;
    }
  }
  it('waits for drain when the stream buffer is full, not otherwise', async () => {
    const s = new SlowStream();
    const sink = streamSink(s);
    await sink.write('a');
    s.full = true;
    let done = false;
    const p = sink.write('b').then(() => (done = true));
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    s.emit('drain');
    await p;
    expect(done).toBe(true);
    expect(s.written).toEqual(['a', 'b']);
    expect(s.listenerCount('drain') + s.listenerCount('error') + s.listenerCount('close')).toBe(0);
  });
  it('does not hang on a stream that closes instead of draining', async () => {
    const s = new SlowStream();
    s.full = true;
    const p = streamSink(s).write('x');
    s.emit('close');
    await p;
  });
});

describe('TableText escaping', () => {
  it('prints a node name with a terminal escape sequence as visible text', () => {
    const text = new TableText(['NAME']).page([['x\u001b[31mred']]);
    expect(text).toContain('x\\x1b[31mred');
    expect(text).not.toContain('\u001b');
  });
});

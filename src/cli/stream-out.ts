/**
 * Output written piece by piece, for listings too long to hold: a JSON array
 * or object whose text comes out as items arrive, a table whose rows print
 * page by page, and a sink that waits when the reader is slower than the
 * server. The text helpers are pure; only the sink touches a stream.
 */
import { escapeControl } from './output.js';

// ---------------------------------------------------------------- JSON

function indented(value: unknown, pad: string): string {
  // JSON escapes newlines inside strings, so every raw newline is a line break of the layout
  return JSON.stringify(value, null, 2).replace(/\n/g, `\n${pad}`);
}

/**
 * A JSON array as pieces: open(), item() per element, close(). Joined, the
 * pieces are exactly `JSON.stringify(items, null, 2)` (at `depth` levels of
 * nesting), so a streamed listing reads like one printed at once.
 */
export class JsonArrayText {
  private n = 0;
  constructor(private readonly depth = 0) {}

  get count(): number {
    return this.n;
  }

  open(): string {
    return '[';
  }

  item(value: unknown): string {
    const pad = '  '.repeat(this.depth + 1);
    return `${this.n++ === 0 ? '\n' : ',\n'}${pad}${indented(value ?? null, pad)}`;
  }

  close(): string {
    return this.n === 0 ? ']' : `\n${'  '.repeat(this.depth)}]`;
  }
}

/**
 * A top-level JSON object as pieces: fields known up front or at the end, and
 * arrays streamed in between. Joined, the same text as JSON.stringify(obj, null, 2).
 */
export class JsonObjectText {
  private n = 0;

  open(): string {
    return '{';
  }

  /** `undefined` values are left out, as JSON.stringify does */
  field(key: string, value: unknown): string {
    if (value === undefined) return '';
    return `${this.n++ === 0 ? '\n' : ',\n'}  ${JSON.stringify(key)}: ${indented(value, '  ')}`;
  }

  /** the key of an array whose items follow; write `array.open()` right after the returned text */
  arrayField(key: string): { text: string; array: JsonArrayText } {
    return { text: `${this.n++ === 0 ? '\n' : ',\n'}  ${JSON.stringify(key)}: `, array: new JsonArrayText(1) };
  }

  close(): string {
    return this.n === 0 ? '}' : '\n}';
  }
}

// ---------------------------------------------------------------- tables

export type Cell = string | number;

/** The padding renderTable (cli-table3) puts after every cell. */
const GAP = 3;

/**
 * A table printed page by page. Column widths come from the header and the
 * first page; a wider cell later pushes only its own row out of line, so a
 * million rows can print without first reading them all. With one page the
 * text is the same as renderTable's.
 */
export class TableText {
  private widths: number[] | undefined;
  constructor(private readonly headers: string[]) {}

  /** the lines of one page, the header line first on the first call; '' for an empty page after the first */
  page(rows: ReadonlyArray<readonly Cell[]>): string {
    const cells = rows.map((r) => r.map((c) => escapeControl(String(c).replace(/\r?\n/g, ' '))));
    let lines: string[] = [];
    if (!this.widths) {
      this.widths = this.headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
      lines.push(this.line(this.headers));
    }
    lines = lines.concat(cells.map((r) => this.line(r)));
    return lines.length ? lines.join('\n') + '\n' : '';
  }

  private line(cells: readonly string[]): string {
    const w = this.widths!;
    return w
      .map((width, i) => (cells[i] ?? '').padEnd(width) + ' '.repeat(GAP))
      .join('')
      .trimEnd();
  }
}

// ---------------------------------------------------------------- the sink

/** Where streamed output goes. */
export interface Sink {
  write(text: string): Promise<void>;
}

export interface WritableLike {
  write(text: string): boolean;
  once(event: 'drain' | 'error' | 'close', listener: () => void): unknown;
  removeListener(event: 'drain' | 'error' | 'close', listener: () => void): unknown;
}

/**
 * Writes to a stream and, when its buffer is full (a slow pipe), waits for
 * it to drain before the next page is fetched: memory stays at one page
 * however long the listing.
 */
export function streamSink(stream: WritableLike = process.stdout): Sink {
  return {
    write(text: string): Promise<void> {
      if (text === '' || stream.write(text)) return Promise.resolve();
      return new Promise((resolve) => {
        const done = (): void => {
          stream.removeListener('drain', done);
          stream.removeListener('error', done);
          stream.removeListener('close', done);
          resolve();
        };
        stream.once('drain', done);
        // a closed pipe is handled by main's EPIPE handler; do not hang waiting for it
        stream.once('error', done);
        stream.once('close', done);
      });
    },
  };
}

/**
 * Ships one task's output to the server: reads the driver's log stream from a
 * cursor, batches it (at most maxBatchBytes per request, flushed at least every
 * flushMs), and persists the cursor after each batch the server acknowledged,
 * so a restarted agent resumes exactly where the server's copy ends.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Logger } from 'pino';
import type { LogChunk, LogStream } from '../api/types.js';
import type { LogRecord } from '../drivers/driver.js';
import { Backoff, errorMessage, isTransient, sleep } from './backoff.js';

export interface LogShipperOptions {
  allocId: string;
  task: string;
  source: AsyncIterable<LogRecord>;
  ship: (chunks: LogChunk[]) => Promise<unknown>;
  /** called after each acknowledged batch that ended on a record boundary */
  saveCursor: (cursor: string) => Promise<void>;
  signal: AbortSignal;
  logger: Logger;
  maxBatchBytes?: number;
  flushMs?: number;
  backoff?: Backoff;
}

export type ShipResult = 'drained' | 'aborted';

interface Piece {
  stream: LogStream;
  data: Buffer;
  /** set when this piece ends its record: the resume point after it */
  cursor?: string;
}

interface Batch {
  chunks: LogChunk[];
  bytes: number;
  cursor?: string;
}

const TIMEOUT = Symbol('timeout');
const ABORTED = Symbol('aborted');

export class LogShipper {
  private pending: Piece[] = [];
  private pendingBytes = 0;
  private firstPendingAt = 0;
  /** the source ended: the last batch also carries what the decoders still hold */
  private ending = false;
  private readonly decoders: Record<LogStream, StringDecoder> = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  private readonly maxBatchBytes: number;
  private readonly flushMs: number;
  private readonly backoff: Backoff;

  constructor(private readonly opts: LogShipperOptions) {
    this.maxBatchBytes = opts.maxBatchBytes ?? 64 * 1024;
    this.flushMs = opts.flushMs ?? 250;
    this.backoff = opts.backoff ?? new Backoff(250, 10_000);
  }

  /** Resolves when the source ended and every byte was acknowledged, or on abort. */
  async run(): Promise<ShipResult> {
    const { signal } = this.opts;
    const it = this.opts.source[Symbol.asyncIterator]();
    // removed when this run ends: the signal is the agent's and lives as long as it does, and
    // a listener left per task made every later add and remove slower (an EventTarget checks
    // the listeners it has): after 50,000 runs each took about a millisecond
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<typeof ABORTED>((resolve) => {
      if (signal.aborted) resolve(ABORTED);
      onAbort = () => resolve(ABORTED);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    let next: Promise<IteratorResult<LogRecord>> | undefined;
    try {
      for (;;) {
        if (!next) {
          next = it.next();
          next.catch(() => undefined); // it may reject while we are busy shipping; handled when awaited
        }
        const waitMs = this.pending.length > 0 ? this.firstPendingAt + this.flushMs - Date.now() : undefined;
        let timer: NodeJS.Timeout | undefined;
        const timeout =
          waitMs === undefined ? undefined : new Promise<typeof TIMEOUT>((resolve) => (timer = setTimeout(() => resolve(TIMEOUT), Math.max(0, waitMs))));
        let r: IteratorResult<LogRecord> | typeof TIMEOUT | typeof ABORTED;
        try {
          r = await Promise.race([next, aborted, ...(timeout ? [timeout] : [])]);
        } catch (err) {
          this.opts.logger.warn(
            { allocId: this.opts.allocId, task: this.opts.task, err: errorMessage(err) },
            'reading task logs failed; shipping what was read',
          );
          r = { done: true, value: undefined };
        } finally {
          clearTimeout(timer);
        }
        if (r === ABORTED) return 'aborted';
        if (r === TIMEOUT) {
          if (!(await this.flush(true))) return 'aborted';
          continue;
        }
        next = undefined;
        if (r.done) {
          this.ending = true;
          // an empty piece makes sure a final batch is taken, which carries the decoders' tail
          this.pending.push({ stream: 'stdout', data: Buffer.alloc(0) });
          return (await this.flush(true)) ? 'drained' : 'aborted';
        }
        this.add(r.value);
        // read ahead while a full batch ships
        next = it.next();
        next.catch(() => undefined);
        if (this.pendingBytes >= this.maxBatchBytes && !(await this.flush(false))) return 'aborted';
      }
    } finally {
      if (onAbort) signal.removeEventListener('abort', onAbort);
      if (signal.aborted) void Promise.resolve(it.return?.()).catch(() => undefined);
    }
  }

  private add(rec: LogRecord): void {
    // an empty record still moves the cursor, so it is queued too
    this.pending.push({ stream: rec.stream, data: rec.data, cursor: rec.cursor });
    this.pendingBytes += rec.data.length;
    if (this.pending.length === 1) this.firstPendingAt = Date.now();
  }

  /** ship full batches, or everything with `all`; false when aborted */
  private async flush(all: boolean): Promise<boolean> {
    while (this.pending.length > 0 && (all || this.pendingBytes >= this.maxBatchBytes)) {
      const batch = this.takeBatch();
      if (!(await this.send(batch))) return false;
      if (batch.cursor !== undefined) await this.opts.saveCursor(batch.cursor);
    }
    if (this.pending.length > 0) this.firstPendingAt = Date.now();
    return true;
  }

  private takeBatch(): Batch {
    const batch: Batch = { chunks: [], bytes: 0 };
    while (this.pending.length > 0) {
      const p = this.pending[0];
      const room = this.maxBatchBytes - batch.bytes;
      let piece: Piece;
      if (p.data.length <= room) {
        piece = this.pending.shift()!;
      } else if (batch.bytes === 0) {
        // a record larger than a batch goes out in slices; its cursor only with the last one
        piece = { stream: p.stream, data: p.data.subarray(0, room) };
        this.pending[0] = { ...p, data: p.data.subarray(room) };
      } else {
        break;
      }
      this.pendingBytes -= piece.data.length;
      batch.bytes += piece.data.length;
      if (piece.cursor !== undefined) batch.cursor = piece.cursor;
      const text = piece.data.length > 0 ? this.decoders[piece.stream].write(piece.data) : '';
      if (text.length > 0) {
        const last = batch.chunks[batch.chunks.length - 1];
        if (last && last.stream === piece.stream) last.data += text;
        else batch.chunks.push({ allocId: this.opts.allocId, task: this.opts.task, stream: piece.stream, data: text });
      }
      if (batch.bytes >= this.maxBatchBytes) break;
    }
    if (this.ending && this.pending.length === 0) {
      // a character cut at the very end of the output: shipped as a replacement character, not lost
      for (const stream of ['stdout', 'stderr'] as const) {
        const rest = this.decoders[stream].end();
        if (rest) batch.chunks.push({ allocId: this.opts.allocId, task: this.opts.task, stream, data: rest });
      }
    }
    return batch;
  }

  /** retries until acknowledged; a batch the server refuses for good is dropped. false when aborted */
  private async send(batch: Batch): Promise<boolean> {
    if (batch.chunks.length === 0) return true;
    for (;;) {
      if (this.opts.signal.aborted) return false;
      try {
        await this.opts.ship(batch.chunks);
        this.backoff.reset();
        return true;
      } catch (err) {
        if (!isTransient(err) && (err as { status?: number }).status !== 401) {
          this.opts.logger.error({ allocId: this.opts.allocId, task: this.opts.task, err: errorMessage(err) }, 'the server refused a log batch; dropping it');
          return true;
        }
        this.opts.logger.warn({ allocId: this.opts.allocId, task: this.opts.task, err: errorMessage(err) }, 'cannot ship logs yet; will retry');
        if (!(await sleep(this.backoff.next(), this.opts.signal))) return false;
      }
    }
  }
}

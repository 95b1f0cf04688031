/**
 * Where progress goes while waiting. On a terminal: one bar redrawn in place
 * about 4 times a second (so elapsed time and ETA move between polls), with
 * messages printed above it. Elsewhere (a pipe, a CI log): a plain line each
 * time the counts change, nothing on a timer.
 */
import { renderProgressBar, renderProgressLine, type ProgressCounts } from './progress.js';

export interface ProgressDisplay {
  update(counts: ProgressCounts): void;
  /** a message line, printed above the bar on a terminal */
  log(line: string): void;
  /** leave the final state on screen and stop redrawing; later messages print below it */
  finish(): void;
}

export interface Stream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

const REDRAW_MS = 250;
/** carriage return, then erase the whole line (ANSI EL2) */
const CLEAR_LINE = '\r\u001b[2K';

export function createProgressDisplay(label: string, stream: Stream, now: () => number = Date.now): ProgressDisplay {
  const startedAt = now();
  let counts: ProgressCounts | undefined;
  if (!stream.isTTY) {
    let last = '';
    return {
      update(c) {
        const line = renderProgressLine({ ...c, label, startedAt, now: now() });
        if (line === last) return;
        last = line;
        stream.write(line + '\n');
      },
      log(line) {
        stream.write(line + '\n');
      },
      finish() {},
    };
  }

  let drawn = false;
  let finished = false;
  const draw = (): void => {
    if (!counts || finished) return;
    stream.write(CLEAR_LINE + renderProgressBar({ ...counts, label, startedAt, now: now() }, stream.columns ?? 80));
    drawn = true;
  };
  const timer = setInterval(draw, REDRAW_MS);
  // the redraw must never be what keeps the CLI alive
  timer.unref();
  return {
    update(c) {
      counts = c;
      draw();
    },
    log(line) {
      if (drawn) stream.write(CLEAR_LINE);
      stream.write(line + '\n');
      drawn = false;
      draw();
    },
    finish() {
      if (finished) return;
      clearInterval(timer);
      draw();
      if (drawn) stream.write('\n');
      drawn = false;
      // from here on, messages print below the bar's last state
      finished = true;
    },
  };
}

/** One line of status redrawn in place on a terminal (`stored 340,000 of 1,000,000 runs`); nothing elsewhere. */
export interface StatusLine {
  update(text: string): void;
  /** a message line, printed above the status */
  log(line: string): void;
  /** erase the status: what follows prints where it was */
  clear(): void;
}

export function createStatusLine(stream: Stream): StatusLine {
  let shown = false;
  return {
    update(text) {
      if (!stream.isTTY) return;
      const max = Math.max(10, (stream.columns ?? 80) - 1);
      stream.write(CLEAR_LINE + (text.length > max ? text.slice(0, max - 1) + '…' : text));
      shown = true;
    },
    log(line) {
      if (shown) stream.write(CLEAR_LINE);
      stream.write(line + '\n');
      shown = false;
    },
    clear() {
      if (shown) stream.write(CLEAR_LINE);
      shown = false;
    },
  };
}

/**
 * Bounds on untrusted text checked before any parser sees it: the JSON and
 * YAML parsers recurse once per nesting level, so a few kilobytes of `[[[[`
 * overflow their stack (and enough such requests exhaust memory). A linear
 * scan that never recurses rejects them first.
 */
import { HttpError } from './errors.js';

/** deeper than any job file or API body baton defines (a job is about 6 levels deep) */
export const MAX_DEPTH = 64;
/** the column a YAML block may start at: each block level needs at least one more */
export const MAX_YAML_INDENT = 256;

/** The deepest `[`/`{` nesting outside strings of a JSON text; stops counting once past `limit`. */
export function jsonDepth(text: string, limit = MAX_DEPTH): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) max = depth;
      if (max > limit) return max;
    } else if (c === 0x5d || c === 0x7d) depth = Math.max(0, depth - 1);
  }
  return max;
}

/**
 * An upper bound of a YAML text's nesting: flow brackets outside quotes and
 * comments, and per line the column its content starts at after indentation
 * and `- `/`? ` indicators (a block level takes at least one column).
 */
export function yamlDepth(text: string): { flow: number; column: number } {
  let flow = 0;
  let maxFlow = 0;
  let maxColumn = 0;
  let quote = 0;
  let lineStart = true;
  let column = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a) {
      lineStart = true;
      column = 0;
      // a single-quoted or double-quoted scalar may span lines; flow state carries over
      continue;
    }
    if (lineStart && quote === 0) {
      if (c === 0x20 || c === 0x09) {
        column++;
        continue;
      }
      const next = text.charCodeAt(i + 1);
      if ((c === 0x2d || c === 0x3f) && (next === 0x20 || next === 0x09)) {
        column += 2;
        i++;
        continue;
      }
      lineStart = false;
      if (column > maxColumn) maxColumn = column;
    }
    if (quote !== 0) {
      if (quote === 0x22 && c === 0x5c) i++;
      else if (c === quote) quote = 0;
      continue;
    }
    if (c === 0x23) {
      // a comment runs to the end of the line
      while (i + 1 < text.length && text.charCodeAt(i + 1) !== 0x0a) i++;
    } else if (c === 0x22 || c === 0x27) {
      // only a quote that opens a scalar starts one; "it's" inside plain text does not
      const prev = text.charCodeAt(i - 1);
      if (i === 0 || prev === 0x20 || prev === 0x09 || prev === 0x5b || prev === 0x7b || prev === 0x2c || prev === 0x3a) quote = c;
    } else if (c === 0x5b || c === 0x7b) {
      if (++flow > maxFlow) maxFlow = flow;
    } else if (c === 0x5d || c === 0x7d) flow = Math.max(0, flow - 1);
  }
  return { flow: maxFlow, column: maxColumn };
}

const depthError = (what: string, detail: string): HttpError =>
  new HttpError(400, `${what} is nested too deeply (${detail}): baton accepts at most ${MAX_DEPTH} levels of lists and objects`, [
    { path: '(body)', message: `nesting deeper than ${MAX_DEPTH} levels` },
  ]);

/** throws 400 when a JSON text nests deeper than MAX_DEPTH */
export function assertJsonDepth(text: string, what = 'the JSON body'): void {
  const d = jsonDepth(text);
  if (d > MAX_DEPTH) throw depthError(what, `more than ${MAX_DEPTH} levels`);
}

/** throws 400 when a YAML (or JSON) text could nest deeper than the bounds */
export function assertYamlDepth(text: string, what = 'the job file'): void {
  const d = yamlDepth(text);
  if (d.flow > MAX_DEPTH) throw depthError(what, `${d.flow} levels of [ ] or { }`);
  if (d.column > MAX_YAML_INDENT) throw depthError(what, `a line indented by ${d.column} columns; the limit is ${MAX_YAML_INDENT}`);
}

/** Pieces the sweep charts share: the box they draw in, state colours and their legend. */
import type { RunState } from '../../../src/api/types.js';
import { RUN_STATES } from './bins.js';

/** every chart draws in a box this wide (user units) and scales to its column, keeping its shape so text stays readable */
export const W = 600;

export function StateLegend({ states = RUN_STATES }: { states?: RunState[] }) {
  return (
    <figcaption className="legend">
      {states.map((s) => (
        <span key={s} className={`key swatch st-${s}`}>
          {s}
        </span>
      ))}
    </figcaption>
  );
}

/** x of a value on a linear scale from [d0, d1] to [r0, r1] */
export function scale(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  const span = d1 - d0 || 1;
  return (v) => r0 + ((v - d0) / span) * (r1 - r0);
}

/** one decimal is enough for SVG coordinates, and keeps the DOM small */
export const px = (n: number) => Math.round(n * 10) / 10;

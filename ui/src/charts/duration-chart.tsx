/** How long finished runs took: a histogram of wall times, split by how they ended, with p50 and p90 marked. */
import { memo } from 'react';
import { duration, int, plural } from '../format.js';
import type { DurationHistogram, FinishedState } from './bins.js';
import { px, scale, StateLegend, W } from './svg.js';

const H = 170;
// two rows of labels above the bars: p50 on the first, p90 on the second, so they never overlap
const PAD = { l: 40, r: 12, t: 30, b: 22 };
const STACK: FinishedState[] = ['complete', 'failed', 'stopped'];

/** memo: the page re-renders every second (its counts); the chart only when its data changes */
export const DurationChart = memo(function DurationChart({ h }: { h: DurationHistogram }) {
  if (h.n === 0 || h.bins.length === 0) return <p className="empty">No run has finished yet.</p>;
  const x0 = h.bins[0].from;
  const x1 = h.bins[h.bins.length - 1].to;
  const x = scale(x0, x1, PAD.l, W - PAD.r);
  const ymax = Math.max(1, ...h.bins.map((b) => b.count));
  const y = scale(0, ymax, H - PAD.b, PAD.t);
  const label = `Durations of ${plural(h.n, 'finished run')}${h.p50 !== undefined ? `: p50 ${duration(h.p50)}, p90 ${duration(h.p90)}` : ''}, from ${duration(h.min)} to ${duration(h.max)}`;
  const marks = [
    { name: 'p50', v: h.p50 },
    { name: 'p90', v: h.p90 },
  ].filter((m): m is { name: string; v: number } => m.v !== undefined);
  return (
    <figure className="chart sweep-chart" data-testid="duration-chart" data-runs={h.n}>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label}>
        <title>{label}</title>
        <line x1={PAD.l} x2={W - PAD.r} y1={y(0)} y2={y(0)} className="axis-line" />
        <line x1={PAD.l} x2={W - PAD.r} y1={y(ymax)} y2={y(ymax)} className="grid" />
        <text x={PAD.l - 6} y={y(ymax) + 4} textAnchor="end" className="axis">
          {int(ymax)}
        </text>
        <text x={PAD.l - 6} y={y(0) + 4} textAnchor="end" className="axis">
          0
        </text>
        <text x={PAD.l} y={H - 6} className="axis">
          {duration(x0)}
        </text>
        <text x={W - PAD.r} y={H - 6} textAnchor="end" className="axis">
          {duration(x1)}
        </text>
        {h.bins.map((b) => {
          const left = x(b.from) + 0.5;
          const width = Math.max(1, x(b.to) - x(b.from) - 1);
          let base = 0;
          return (
            <g key={b.from} className="bin" data-count={b.count} data-from={b.from} data-to={b.to}>
              <title>{`${duration(b.from)} – ${duration(b.to)}: ${plural(b.count, 'run')}${b.byState.failed ? `, ${int(b.byState.failed)} failed` : ''}${b.byState.stopped ? `, ${int(b.byState.stopped)} stopped` : ''}`}</title>
              {/* the whole column catches the pointer, so thin bars still show their numbers */}
              <rect x={px(left)} width={px(width)} y={PAD.t} height={H - PAD.b - PAD.t} className="hit" />
              {STACK.map((s) => {
                const n = b.byState[s];
                if (n === 0) return null;
                const top = y(base + n);
                const r = <rect key={s} x={px(left)} width={px(width)} y={px(top)} height={px(Math.max(1, y(base) - top))} className={`st-${s}`} />;
                base += n;
                return r;
              })}
            </g>
          );
        })}
        {marks.map((m, i) => {
          const at = px(x(m.v));
          const y0 = 11 + i * 12;
          // beside the line, on the side with room for the text
          const right = at < W - PAD.r - 80;
          return (
            <g key={m.name} className="quantile" data-quantile={m.name}>
              <line x1={at} x2={at} y1={y0 - 8} y2={H - PAD.b} />
              <text x={at + (right ? 4 : -4)} y={y0} textAnchor={right ? 'start' : 'end'}>{`${m.name} ${duration(m.v)}`}</text>
            </g>
          );
        })}
      </svg>
      <StateLegend states={STACK} />
    </figure>
  );
});

/**
 * Peak memory against the request, run by run in submission order (or per
 * group of consecutive runs when there are many): a column well below the
 * request line is memory asked for and not used; a red one was OOM-killed.
 */
import { memo } from 'react';
import { bytes, int, plural } from '../format.js';
import { sizingVerdict, type MemoryView } from './bins.js';
import { px, scale, W } from './svg.js';

const H = 170;
const PAD = { l: 58, r: 12, t: 14, b: 22 };

/** memo: the page re-renders every second (its counts); the chart only when its data changes */
export const MemoryChart = memo(function MemoryChart({ v }: { v: MemoryView }) {
  const verdict = sizingVerdict(v);
  if (v.columns.length === 0) return <p className="empty">{verdict}</p>;
  const top = v.top * 1.1 || 1;
  const y = scale(0, top, H - PAD.b, PAD.t);
  const n = v.columns.length;
  const slot = (W - PAD.l - PAD.r) / n;
  const cx = (i: number) => PAD.l + slot * i;
  const grouped = v.columns.some((c) => c.n > 1);
  const requests = v.columns.map((c) => c.requested);
  const limits = v.columns.map((c) => c.limit).filter((l): l is number => l !== undefined);
  // the limit gets a line of its own only where it is not the request
  const limit = limits.length > 0 && limits.some((l, i) => l !== requests[i]) ? Math.max(...limits) : undefined;
  const req = Math.max(...requests);
  const label = `Peak memory of ${plural(v.n, 'run')} against the ${bytes(req)} they ask for${v.used ? `: ${Math.round(v.used.p50 * 100)}% of it at the median, ${Math.round(v.used.max * 100)}% at most` : ''}${v.oom ? `; ${plural(v.oom, 'run')} OOM-killed` : ''}`;
  const first = v.columns[0];
  const last = v.columns[n - 1];
  return (
    <figure className="chart sweep-chart" data-testid="memory-chart" data-runs={v.n} data-oom={v.oom}>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label}>
        <title>{label}</title>
        {[0, top / 2, top].map((t) => (
          <g key={t}>
            <line x1={PAD.l} x2={W - PAD.r} y1={px(y(t))} y2={px(y(t))} className="grid" />
            <text x={PAD.l - 6} y={px(y(t)) + 4} textAnchor="end" className="axis">
              {bytes(t)}
            </text>
          </g>
        ))}
        <text x={PAD.l} y={H - 6} className="axis">{`run ${first.firstIndex}`}</text>
        <text x={W - PAD.r} y={H - 6} textAnchor="end" className="axis">{`run ${last.lastIndex}`}</text>
        {v.columns.map((c, i) => {
          const w = Math.max(1, slot * 0.7);
          const left = cx(i) + (slot - w) / 2;
          const yTop = y(c.max);
          const yLow = grouped ? y(c.min) : y(0);
          const runs = c.n === 1 ? `run ${c.firstIndex}` : `runs ${c.firstIndex}–${c.lastIndex}`;
          const what = c.n === 1 ? `peak ${bytes(c.max)}` : `peaks ${bytes(c.min)} – ${bytes(c.max)}, median ${bytes(c.median)}`;
          return (
            <g key={c.first} className={`mem-col ${c.oom ? 'oom' : ''}`} data-runs={c.n} data-oom={c.oom}>
              <title>{`${runs}: ${what} of ${bytes(c.requested)} asked (${Math.round((c.max / (c.requested || 1)) * 100)}%)${c.oom ? `, ${int(c.oom)} OOM-killed` : ''}`}</title>
              <rect x={px(cx(i))} width={px(slot)} y={PAD.t} height={H - PAD.b - PAD.t} className="hit" />
              <rect x={px(left)} width={px(w)} y={px(yTop)} height={px(Math.max(1.5, yLow - yTop))} className="peak" />
              {grouped && c.n > 1 && <line x1={px(left)} x2={px(left + w)} y1={px(y(c.median))} y2={px(y(c.median))} className="median" />}
            </g>
          );
        })}
        <polyline
          className="request"
          points={v.columns.flatMap((c, i) => [`${px(cx(i))},${px(y(c.requested))}`, `${px(cx(i) + slot)},${px(y(c.requested))}`]).join(' ')}
        />
        <text x={W - PAD.r - 2} y={px(y(last.requested)) - 4} textAnchor="end" className="request-label">{`asked ${bytes(last.requested)}`}</text>
        {limit !== undefined && (
          <g>
            <line x1={PAD.l} x2={W - PAD.r} y1={px(y(limit))} y2={px(y(limit))} className="limit" />
            <text x={PAD.l + 4} y={px(y(limit)) - 4} className="limit-label">{`limit ${bytes(limit)}`}</text>
          </g>
        )}
      </svg>
      <figcaption className="legend">
        <span className="key swatch peak">{grouped ? 'peak (lowest–highest, median)' : 'peak'}</span>
        <span className="key line-key request">asked</span>
        {limit !== undefined && <span className="key line-key limit">limit</span>}
        {v.oom > 0 && <span className="key swatch oom">OOM-killed</span>}
      </figcaption>
      <p className="chart-note" data-testid="memory-verdict">
        {verdict}
        {v.withoutPeak > 0 ? ` ${plural(v.withoutPeak, 'run')} without a reported peak (not run yet, or not measured) left out.` : ''}
      </p>
    </figure>
  );
});

/** Outcomes by parameter value: one stacked bar per value (or bin of values) of a meta key, counted by state. */
import { memo } from 'react';
import { int, plural } from '../format.js';
import { RUN_STATES, type ParamChart } from './bins.js';
import { px, scale, StateLegend, W } from './svg.js';

const ROW = 22;
const LABEL_W = 120;
const COUNT_W = 130;

/** memo: the page re-renders every second (its counts); the chart only when its data changes */
export const OutcomeChart = memo(function OutcomeChart({ chart }: { chart: ParamChart }) {
  const { key, groups } = chart;
  const H = groups.length * ROW + 4;
  const max = Math.max(1, ...groups.map((g) => g.total));
  const x = scale(0, max, LABEL_W + 8, W - COUNT_W);
  const failedAt = groups.filter((g) => g.counts.failed > 0).map((g) => g.label);
  const label = `Runs by ${key}${chart.binned ? ` (${int(chart.distinct)} values in ${groups.length} ranges)` : ''}: ${failedAt.length ? `failed runs at ${key} = ${failedAt.slice(0, 5).join(', ')}${failedAt.length > 5 ? ' …' : ''}` : 'no failed run'}`;
  return (
    <figure className="chart sweep-chart param-chart" data-testid="outcome-chart" data-param={key}>
      <h3>
        {key}
        <span className="muted small">{chart.binned ? ` · ${int(chart.distinct)} values in ranges` : ` · ${plural(chart.distinct, 'value')}`}</span>
      </h3>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label}>
        <title>{label}</title>
        {groups.map((g, i) => {
          const yTop = i * ROW + 3;
          let base = 0;
          const shown = g.label.length > 18 ? `${g.label.slice(0, 17)}…` : g.label;
          return (
            <g
              key={g.label}
              className="param-row"
              data-value={g.label}
              data-total={g.total}
              {...Object.fromEntries(RUN_STATES.map((s) => [`data-${s}`, g.counts[s]]))}
            >
              <title>{`${key} = ${g.label}: ${plural(g.total, 'run')}, ${RUN_STATES.filter((s) => g.counts[s] > 0)
                .map((s) => `${int(g.counts[s])} ${s}`)
                .join(', ')}`}</title>
              <rect x={0} y={yTop - 2} width={W} height={ROW} className="hit" />
              <text x={LABEL_W} y={yTop + 12} textAnchor="end" className="axis value">
                {shown}
              </text>
              {RUN_STATES.map((s) => {
                const n = g.counts[s];
                if (n === 0) return null;
                const left = x(base);
                base += n;
                // a handful of failures among thousands must still be seen
                return <rect key={s} x={px(left)} y={yTop} width={px(Math.max(2, x(base) - left))} height={ROW - 6} className={`st-${s}`} />;
              })}
              <text x={px(x(g.total)) + 6} y={yTop + 12} className="axis">
                {int(g.total)}
                {g.counts.failed > 0 ? ` · ${int(g.counts.failed)} failed` : ''}
              </text>
            </g>
          );
        })}
      </svg>
    </figure>
  );
});

export { StateLegend };

/** Small building blocks: capacity bars, status badges, hand-written SVG charts, action buttons. */
import { useState, type ReactNode } from 'react';
import type { PlacementFailure } from '../../src/api/types.js';
import type { HttpError } from './api.js';
import { pct } from './format.js';

export function Bar({ label, used, total, format, title }: { label?: string; used: number; total: number; format: (n: number) => string; title?: string }) {
  const p = pct(used, total);
  const level = p >= 90 ? 'high' : p >= 70 ? 'mid' : 'low';
  return (
    <div className="bar" title={title ?? `${format(used)} of ${format(total)} used, ${format(Math.max(0, total - used))} free`}>
      {label && <span className="bar-label">{label}</span>}
      <span className="bar-track" role="meter" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(p)} aria-label={label}>
        <span className={`bar-fill ${level}`} style={{ width: `${p}%` }} />
      </span>
      <span className="bar-text">
        {format(used)} / {format(total)}
      </span>
    </div>
  );
}

const TONE: Record<string, string> = {
  ready: 'ok',
  running: 'ok',
  complete: 'done',
  successful: 'done',
  eligible: 'ok',
  healthy: 'ok',
  passing: 'ok',
  pending: 'wait',
  queued: 'wait',
  initializing: 'wait',
  blocked: 'wait',
  starting: 'wait',
  paused: 'wait',
  draining: 'warn',
  failed: 'bad',
  lost: 'bad',
  down: 'bad',
  'oom-killed': 'bad',
  'timed-out': 'bad',
  unhealthy: 'bad',
  failing: 'bad',
  stopped: 'off',
  cancelled: 'off',
  ineligible: 'warn',
  dead: 'off',
  preempted: 'warn',
};

export function Badge({ status, children }: { status: string; children?: ReactNode }) {
  return (
    <span className={`badge tone-${TONE[status] ?? 'off'}`} data-status={status}>
      {children ?? status}
    </span>
  );
}

export function ErrorBox({ error }: { error: HttpError | Error | string | undefined }) {
  if (!error) return null;
  return (
    <div className="error" role="alert">
      {typeof error === 'string' ? error : error.message}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return <p className="muted">Loading {what}…</p>;
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

export function Section({ title, actions, children }: { title: string; actions?: ReactNode; children: ReactNode }) {
  return (
    <section className="card">
      <header className="card-head">
        <h2>{title}</h2>
        {actions && <div className="card-actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

/** Why work waits for a place, per dimension; and whether waiting can help at all. */
export function WhyWaits({ blocked, title }: { blocked: PlacementFailure[] | undefined; title?: string }) {
  if (!blocked?.length) return null;
  return (
    <div className="blocked">
      {title && <h3>{title}</h3>}
      {blocked.map((b, i) => (
        <p key={i} className={`why ${b.neverFits ? 'never' : ''}`}>
          <strong>{b.dimension}</strong>: {b.message}
          {b.neverFits && <em> — no node could ever fit this; waiting will not help</em>}
        </p>
      ))}
    </div>
  );
}

/**
 * Previous / next through a paged listing. Cursors only go forward, so the
 * page number is the only position there is; `shown` says which rows these are.
 */
export function Pager({
  page,
  hasNext,
  onPrev,
  onNext,
  onFirst,
  shown,
}: {
  page: number;
  hasNext: boolean;
  onPrev: () => void;
  onNext: () => void;
  onFirst: () => void;
  shown?: ReactNode;
}) {
  if (page === 0 && !hasNext) return shown ? <p className="pager muted small">{shown}</p> : null;
  return (
    <nav className="pager" aria-label="pages">
      <button type="button" className="btn" onClick={onFirst} disabled={page === 0}>
        First
      </button>
      <button type="button" className="btn" onClick={onPrev} disabled={page === 0}>
        Previous
      </button>
      <span className="muted small" data-page={page + 1}>
        page {page + 1}
        {shown ? <>, {shown}</> : null}
      </span>
      <button type="button" className="btn" onClick={onNext} disabled={!hasNext}>
        Next
      </button>
    </nav>
  );
}

/** A key/value list that wraps on narrow screens. */
export function Facts({ items }: { items: Array<[string, ReactNode]> }) {
  return (
    <dl className="facts">
      {items.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

/**
 * A button that runs an API action, shows it is busy, and shows the server's
 * error message next to it (a 403 for a read-only token, a 409 for a promote too early).
 */
export function ActionButton({
  onRun,
  children,
  confirm,
  kind = 'normal',
  disabled,
}: {
  onRun: () => Promise<unknown>;
  children: ReactNode;
  confirm?: string;
  kind?: 'normal' | 'danger' | 'primary';
  disabled?: boolean;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  return (
    <span className="action">
      <button
        type="button"
        className={`btn ${kind}`}
        disabled={busy || disabled}
        onClick={async () => {
          if (confirm && !window.confirm(confirm)) return;
          setBusy(true);
          setError(undefined);
          try {
            await onRun();
          } catch (e) {
            setError((e as Error).message);
          } finally {
            setBusy(false);
          }
        }}
      >
        {children}
      </button>
      {error && (
        <span className="action-error" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}

export interface Series {
  name: string;
  /** [time ms, value] */
  points: Array<[number, number]>;
  className: string;
}

/**
 * A line chart over time in plain SVG: one or more series, an optional limit line
 * (the memory limit) and optional markers (an OOM kill). Scales to its box.
 */
export function TimeChart({
  series,
  limit,
  markers = [],
  format,
  height = 140,
  label,
  from,
  to,
}: {
  series: Series[];
  limit?: { value: number; label: string };
  markers?: Array<{ time: number; label: string }>;
  format: (n: number) => string;
  height?: number;
  label: string;
  from?: number;
  to?: number;
}) {
  const W = 600;
  const H = height;
  const pad = { l: 64, r: 8, t: 10, b: 20 };
  const all = series.flatMap((s) => s.points);
  const t0 = from ?? Math.min(...all.map((p) => p[0]), ...markers.map((m) => m.time));
  const t1 = to ?? Math.max(...all.map((p) => p[0]), ...markers.map((m) => m.time));
  const vmax = Math.max(1, ...all.map((p) => p[1]), limit?.value ?? 0) * 1.08;
  const x = (t: number) => pad.l + ((t - t0) / Math.max(1, t1 - t0)) * (W - pad.l - pad.r);
  const y = (v: number) => pad.t + (1 - v / vmax) * (H - pad.t - pad.b);
  const ticks = [0, vmax / 2, vmax];
  const clock = (t: number) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label} preserveAspectRatio="none">
        {ticks.map((v) => (
          <g key={v}>
            <line x1={pad.l} x2={W - pad.r} y1={y(v)} y2={y(v)} className="grid" />
            <text x={pad.l - 6} y={y(v) + 4} textAnchor="end" className="axis">
              {format(v)}
            </text>
          </g>
        ))}
        <text x={pad.l} y={H - 4} className="axis">
          {clock(t0)}
        </text>
        <text x={W - pad.r} y={H - 4} textAnchor="end" className="axis">
          {clock(t1)}
        </text>
        {limit && (
          <g>
            <line x1={pad.l} x2={W - pad.r} y1={y(limit.value)} y2={y(limit.value)} className="limit" />
            <text x={W - pad.r - 4} y={y(limit.value) - 4} textAnchor="end" className="limit-label">
              {limit.label}
            </text>
          </g>
        )}
        {series.map((s) =>
          s.points.length === 1 ? (
            <circle key={s.name} cx={x(s.points[0][0])} cy={y(s.points[0][1])} r={3} className={`dot ${s.className}`} />
          ) : (
            <polyline key={s.name} className={`line ${s.className}`} points={s.points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ')} />
          ),
        )}
        {markers.map((m) => (
          <g key={`${m.time}-${m.label}`} className="marker">
            <line x1={x(m.time)} x2={x(m.time)} y1={pad.t} y2={H - pad.b} />
            <text x={x(m.time) - 4} y={pad.t + 10} textAnchor="end">
              {m.label}
            </text>
          </g>
        ))}
      </svg>
      <figcaption className="legend">
        {series.map((s) => (
          <span key={s.name} className={`key ${s.className}`}>
            {s.name}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}

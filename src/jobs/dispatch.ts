/**
 * Dispatching a parameterized job: checking each run against the parent's
 * declared meta and payload rules, and making the child jobs' specs. Pure, so
 * a sweep of hundreds of rows is validated in full before anything is stored.
 */
import type { ApiErrorDetail, DispatchRun, Job, JobSpec } from '../api/types.js';

/** a payload larger than this belongs in a shared volume, not in the state store */
export const MAX_PAYLOAD_BYTES = 256 * 1024;
export const MAX_RUNS_PER_DISPATCH = 10_000;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The start of the message of a refused dispatch: `nothing was dispatched (2 problems)`; `capped`: the count stopped at n. */
export function dispatchRefusal(n: number, capped = false): string {
  return `nothing was dispatched (${n}${capped ? ' or more' : ''} problem${n === 1 ? '' : 's'})`;
}

/** Every problem of every run, each naming the run (the sweep's row) and the field. */
export function validateRuns(parent: Job, runs: DispatchRun[]): ApiErrorDetail[] {
  const p = parent.spec.parameterized;
  if (!p) {
    return [
      { path: 'job', message: `job "${parent.id}" is not parameterized: add a parameterized block (meta_required, meta_optional, payload) to dispatch it` },
    ];
  }
  if (runs.length === 0) return [{ path: 'runs', message: 'no runs to dispatch' }];
  if (runs.length > MAX_RUNS_PER_DISPATCH) return [{ path: 'runs', message: `${runs.length} runs in one dispatch; the limit is ${MAX_RUNS_PER_DISPATCH}` }];
  const allowed = new Set([...p.metaRequired, ...p.metaOptional]);
  const out: ApiErrorDetail[] = [];
  runs.forEach((run, i) => {
    const at = (field: string, message: string): void => {
      out.push({ path: `runs[${i}]${field}`, message: `run ${i + 1}: ${message}` });
    };
    for (const key of p.metaRequired) {
      if (run.meta[key] === undefined || run.meta[key] === '') at(`.meta.${key}`, `missing required meta "${key}"`);
    }
    for (const key of Object.keys(run.meta)) {
      if (!allowed.has(key)) {
        const known = [...allowed];
        at(`.meta.${key}`, `unknown meta "${key}"; ${known.length ? `this job takes ${known.join(', ')}` : 'this job takes no meta'}`);
      }
    }
    if (run.payload !== undefined) {
      if (p.payload === 'forbidden') at('.payload', 'this job takes no payload (payload: forbidden)');
      else if (!BASE64.test(run.payload) || run.payload.length % 4 !== 0) at('.payload', 'payload must be base64');
      else if (Buffer.byteLength(run.payload, 'base64') > MAX_PAYLOAD_BYTES)
        at('.payload', `payload is over ${MAX_PAYLOAD_BYTES / 1024} KiB; put large inputs on shared storage and pass their path as meta`);
    } else if (p.payload === 'required') {
      at('.payload', 'this job requires a payload (payload: required)');
    }
  });
  return out;
}

/** `<parent>/<first 8 of the sweep id>-<row>`: readable, unique, sorted by row within a sweep */
export function childId(parentId: string, sweepId: string, row: number): string {
  return `${parentId}/${sweepId.slice(0, 8)}-${row}`;
}

/** The child runs the parent's tasks with the run's meta merged in, as an ordinary batch job. */
export function childSpec(parent: JobSpec, id: string, meta: Record<string, string>): JobSpec {
  const { parameterized: _p, periodic: _q, ...rest } = parent;
  return { ...rest, name: id, meta: { ...parent.meta, ...meta } };
}

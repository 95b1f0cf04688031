/**
 * Replacement links for `baton alloc status` and the alloc page: which alloc
 * replaced this one and why, and which one this one replaced. The scheduler
 * names the replaced alloc in previousAllocId when it places a replacement
 * (a lost alloc, a retry after a failure, a migration off a draining node, a
 * new job version ...); why is told from the replaced alloc as it is now.
 */
import type { Alloc, AllocDetail, AllocLink, JobSpec } from '../api/types.js';
import { DRAIN_DEADLINE_PASSED, DRAIN_PREFIX } from '../scheduler/reconcile.js';
import { formatBytes } from '../spec/units.js';

/** `exit 3`, `OOM killed at 1 GiB`, `timed out`: how the failed run ended, in a few words */
function howItFailed(a: Alloc): string {
  const tasks = Object.entries(a.taskStates);
  const oom = tasks.find(([, t]) => t.oomKilled);
  if (oom) {
    const limit = oom[1].memoryLimit ?? a.taskResources?.[oom[0]]?.memory;
    return `OOM killed${limit ? ` at ${formatBytes(limit)}` : ''}`;
  }
  if (tasks.some(([, t]) => t.timedOut)) return 'timed out';
  const failed = tasks.find(([, t]) => t.failed && t.exitCode !== undefined) ?? tasks.find(([, t]) => t.exitCode !== undefined && t.exitCode !== 0);
  if (failed) return `exit ${failed[1].exitCode}${tasks.length > 1 ? ` of task ${failed[0]}` : ''}`;
  return a.clientDescription || 'no exit code';
}

function isLive(a: Alloc): boolean {
  return a.desiredStatus === 'run' && (a.clientStatus === 'pending' || a.clientStatus === 'running');
}

/**
 * Why `prev` was replaced by `next`, as a short sentence: "lost: node n1
 * missed its heartbeats for 15s", "failed (exit 3), retry 2 of 3", "node
 * drain: moving off n1", "a new job version (1 → 2)" ... `spec` is the job
 * version `next` runs, for the number of retries a batch job allows.
 */
export function replacementReason(prev: Alloc, next: Alloc | undefined, spec?: JobSpec): string {
  if (prev.preemptedBy !== undefined) return `preempted by ${prev.preemptedBy}`;
  if (prev.clientStatus === 'lost') return `lost: ${prev.clientDescription || `node ${prev.nodeName || prev.nodeId} went down`}`;
  if (next && next.jobVersion !== prev.jobVersion) return `a new job version (${prev.jobVersion} → ${next.jobVersion})`;
  if (prev.desiredDescription.startsWith('replaced by version '))
    return `a new job version (${prev.jobVersion} → ${prev.desiredDescription.slice('replaced by version '.length)})`;
  if (prev.desiredDescription === DRAIN_DEADLINE_PASSED) return `node drain: the deadline on ${prev.nodeName || prev.nodeId} passed`;
  if (prev.desiredDescription.startsWith(DRAIN_PREFIX)) return `node drain: moved off ${prev.nodeName || prev.nodeId}`;
  // the scheduler replaces a live alloc of the same version only to move it off a draining node
  if (isLive(prev)) return `node drain: moving off ${prev.nodeName || prev.nodeId}`;
  if (prev.clientStatus === 'failed') {
    const how = howItFailed(prev);
    if (!next) return `failed (${how})`;
    const retries = spec?.type === 'batch' ? ` of ${spec.retry.attempts}` : '';
    const grown = next.resources.memory > prev.resources.memory ? ` with ${formatBytes(next.resources.memory)}` : '';
    return next.attempt > prev.attempt ? `failed (${how}), retry ${next.attempt}${retries}${grown}` : `failed (${how})`;
  }
  if (prev.desiredStatus === 'stop' && prev.desiredDescription === 'job stopped') return 'job stopped, then started again';
  if (prev.desiredStatus === 'stop' && prev.desiredDescription) return prev.desiredDescription;
  // a batch run that completes is never replaced: this one was lost, placed again, and its completion came late
  if (prev.clientStatus === 'complete' && spec?.type === 'batch')
    return `lost with node ${prev.nodeName || prev.nodeId}, then completed after all: the replacement is stopped`;
  if (prev.clientStatus === 'complete') return `ended (exit 0); a ${spec?.type ?? 'service'} job is kept running`;
  return `${prev.clientStatus}${prev.clientDescription ? `: ${prev.clientDescription}` : ''}`;
}

function link(a: Alloc, reason: string): AllocLink {
  return { id: a.id, name: a.name, ...(a.nodeName ? { nodeName: a.nodeName } : {}), clientStatus: a.clientStatus, reason };
}

/** what the detail route needs of the store */
export interface ReplacementSource {
  getAlloc(id: string): Promise<Alloc>;
  replacementOf(id: string): Promise<Alloc | undefined>;
  jobVersionSpec(namespace: string, id: string, version: number): Promise<JobSpec | undefined>;
}

/** The alloc with its replacement links (GET /v1/allocs/:id). */
export async function allocDetail(store: ReplacementSource, alloc: Alloc): Promise<AllocDetail> {
  const out: AllocDetail = { ...alloc };
  const specs = new Map<number, Promise<JobSpec | undefined>>();
  const specOf = (a: Alloc): Promise<JobSpec | undefined> => {
    let p = specs.get(a.jobVersion);
    if (!p) specs.set(a.jobVersion, (p = store.jobVersionSpec(a.namespace, a.jobId, a.jobVersion).catch(() => undefined)));
    return p;
  };
  const next = await store.replacementOf(alloc.id);
  if (next) out.replacedBy = link(next, replacementReason(alloc, next, await specOf(next)));
  if (alloc.previousAllocId) {
    // garbage collected once it had finished long enough: previousAllocId alone says which it was
    const prev = await store.getAlloc(alloc.previousAllocId).catch(() => undefined);
    if (prev && prev.id === alloc.previousAllocId) out.replaces = link(prev, replacementReason(prev, alloc, await specOf(alloc)));
  }
  return out;
}

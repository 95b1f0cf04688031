export { translateCompose, normalizeStackName, upstreamEnvName, volumeNameForPath } from './translate.js';
export type { ComposeDependency, ComposeIssue, ComposeJob, ComposeOptions, ComposeStack, DependencyCondition } from './translate.js';
export { allocHealthy, dependencyReadiness, type Readiness } from './ready.js';

export { parseJobObject, parseJobSource, type ParsedJob } from './parse.js';
export { SpecError, formatPath } from './errors.js';
export * from './units.js';
export * from './defaults.js';

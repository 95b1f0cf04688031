/** Errors the store raises for the API to turn into 4xx answers. */
export class NotFoundError extends Error {
  readonly status = 404;
}
export class ConflictError extends Error {
  readonly status = 409;
}
export class AmbiguousIdError extends Error {
  readonly status = 400;
}

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

/** The store cannot write (disk full, I/O error, read-only file): a fault of the server's, not of the request. */
export class StoreWriteError extends Error {
  readonly status = 503;
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'StoreWriteError';
  }
}

const WRITE_FAULTS: Array<[RegExp, string]> = [
  [/^SQLITE_FULL/, 'disk full: the server\'s data directory has no space left; free some and baton carries on (nothing was half written)'],
  [/^SQLITE_IOERR/, 'the disk under the server\'s data directory failed a read or write; check the disk and the kernel log'],
  [/^SQLITE_READONLY/, 'the store file is read-only: check the permissions and the mount of the server\'s data directory'],
  [/^SQLITE_CANTOPEN/, 'the store file cannot be opened: check that the server\'s data directory exists and is writable'],
];

/** A driver error as what it means to an operator, with the code kept; other errors as they are. */
export function describeStoreError(err: unknown): unknown {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string' || err instanceof StoreWriteError) return err;
  const fault = WRITE_FAULTS.find(([re]) => re.test(code));
  return fault ? new StoreWriteError(`${fault[1]} (${code}: ${(err as Error).message})`, code) : err;
}

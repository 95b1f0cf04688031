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
  [/^SQLITE_FULL/, "disk full: the server's data directory has no space left; free some and baton carries on (nothing was half written)"],
  [/^SQLITE_IOERR/, "the disk under the server's data directory failed a read or write; check the disk and the kernel log"],
  [/^SQLITE_READONLY/, "the store file is read-only: check the permissions and the mount of the server's data directory"],
  [/^SQLITE_CANTOPEN/, "the store file cannot be opened: check that the server's data directory exists and is writable"],
  // PostgreSQL (SQLSTATE classes 08 connection, 53 resources, 57 operator intervention) and the sockets under it
  [
    /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EPIPE|08\d\d\d|57P0[1-3])$/,
    'the PostgreSQL database cannot be reached (down, restarting or cut off); baton carries on when it answers again',
  ],
  [/^53100$/, "the PostgreSQL database's disk is full; free some and baton carries on (nothing was half written)"],
  [/^53\d\d\d$/, 'the PostgreSQL database is out of a resource (memory or connections): check its log and max_connections'],
];

/** pg's own errors when a connection drops or cannot be had carry no code */
const PG_CONNECTION_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection terminated unexpectedly)/;

/** A driver error as what it means to an operator, with the code kept; other errors as they are. */
export function describeStoreError(err: unknown): unknown {
  if (err instanceof Error && !(err as { code?: unknown }).code && PG_CONNECTION_MESSAGES.test(err.message)) {
    return new StoreWriteError(
      `the PostgreSQL database cannot be reached (down, restarting or cut off); baton carries on when it answers again (${err.message})`,
      'ECONNRESET',
    );
  }
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string' || err instanceof StoreWriteError) return err;
  const fault = WRITE_FAULTS.find(([re]) => re.test(code));
  return fault ? new StoreWriteError(`${fault[1]} (${code}: ${(err as Error).message})`, code) : err;
}

/**
 * A write only the leader may make, refused because this server does not
 * hold the lease (any more): another server leads, or this one lost the
 * database for longer than its lease. Nothing was written.
 */
export class NotLeaderError extends Error {
  readonly status = 503;
  constructor(message: string) {
    super(message);
    this.name = 'NotLeaderError';
  }
}

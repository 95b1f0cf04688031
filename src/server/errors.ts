/**
 * Every failure leaves the server as an ApiError body with a 4xx (bad input,
 * auth, unknown ids) or, for baton's own bugs only, a 500.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodError, ZodType } from 'zod';
import type { ApiError, ApiErrorDetail } from '../api/types.js';
import { formatPath, SpecError } from '../spec/errors.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: ApiErrorDetail[] = [],
  ) {
    super(message);
  }
}

export const badRequest = (message: string, details: ApiErrorDetail[] = []): HttpError => new HttpError(400, message, details);

/** zod's issues as field-level details, for request bodies and queries */
export function zodToHttp(err: ZodError, what: string): HttpError {
  const details = err.issues.map((i) => ({
    path: formatPath(i.path.filter((p): p is string | number => typeof p !== 'symbol')),
    message: i.message,
  }));
  const first = details[0];
  return badRequest(`invalid ${what}: ${first ? `${first.path}: ${first.message}` : 'malformed'}`, details);
}

/** validate untrusted input against a schema, or answer 400 naming the fields */
export function parseInput<T>(schema: ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw zodToHttp(r.error, what);
  return r.data;
}

const FASTIFY_MESSAGES: Record<string, (e: FastifyError, limit: number) => string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: (_e, limit) => `request body is too large: the limit is ${Math.round(limit / 1024 / 1024)} MiB`,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => 'unsupported content-type: send application/json (or application/yaml for a job file)',
  FST_ERR_CTP_EMPTY_JSON_BODY: () => 'the body is empty but content-type is application/json: send a JSON object',
  FST_ERR_CTP_INVALID_JSON_BODY: (e) => `the body is not valid JSON: ${e.message}`,
};

export function makeErrorHandler(bodyLimit: number) {
  return (error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void => {
    const status = statusOf(error);
    const body: ApiError = { error: error.message };
    if (error instanceof HttpError || error instanceof SpecError) {
      if (error.details.length) body.details = error.details;
    }
    const code = (error as FastifyError).code;
    if (code && FASTIFY_MESSAGES[code]) body.error = FASTIFY_MESSAGES[code](error as FastifyError, bodyLimit);
    else if (error instanceof SyntaxError && status === 400) body.error = `the body is not valid JSON: ${error.message}`;
    if (status >= 500) {
      request.log.error({ err: error }, 'internal error');
      body.error = `internal error: ${error.message}`;
    }
    void reply.status(status).send(body);
  };
}

function statusOf(error: Error): number {
  if (error instanceof HttpError) return error.status;
  if (error instanceof SpecError) return 400;
  const s = (error as { status?: number; statusCode?: number }).status ?? (error as { statusCode?: number }).statusCode;
  return typeof s === 'number' && s >= 400 && s < 600 ? s : 500;
}

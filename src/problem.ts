import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** One offending input: a JSON-path-like field name and what is wrong with it. */
export interface FieldError {
  field: string;
  message: string;
}

/** An RFC 9457 problem document, with fanout's `field` and `errors` extensions. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** The first offending field, for clients that show one message. */
  field?: string;
  errors?: FieldError[];
}

/** The problem kinds fanout answers with; `type` is `urn:fanout:problem:<kind>`. */
export type ProblemKind =
  | 'invalid-request'
  | 'malformed-json'
  | 'too-many-urls'
  | 'body-too-large'
  | 'unsupported-media-type'
  | 'unauthorized'
  | 'not-found'
  | 'method-not-allowed'
  | 'conflict'
  | 'misconfigured'
  | 'internal';

const TITLES: Record<ProblemKind, string> = {
  'invalid-request': 'Invalid request',
  'malformed-json': 'Malformed JSON',
  'too-many-urls': 'Too many URLs',
  'body-too-large': 'Request body too large',
  'unsupported-media-type': 'Unsupported media type',
  unauthorized: 'Unauthorized',
  'not-found': 'Not found',
  'method-not-allowed': 'Method not allowed',
  conflict: 'Conflict',
  misconfigured: 'Service misconfigured',
  internal: 'Internal error',
};

/** Builds a problem+json response. */
export function problemResponse(
  kind: ProblemKind,
  status: ContentfulStatusCode,
  detail: string,
  extra: { errors?: FieldError[]; headers?: HeadersInit } = {},
): Response {
  const body: Problem = { type: `urn:fanout:problem:${kind}`, title: TITLES[kind], status, detail };
  if (extra.errors?.length) {
    body.field = extra.errors[0]!.field;
    body.errors = extra.errors;
  }
  const headers = new Headers(extra.headers);
  headers.set('content-type', 'application/problem+json; charset=utf-8');
  return new Response(JSON.stringify(body), { status, headers });
}

/** An HTTPException that answers with a problem document (thrown from middleware, rendered by onError). */
export class ProblemException extends HTTPException {
  constructor(
    kind: ProblemKind,
    status: ContentfulStatusCode,
    detail: string,
    extra: { errors?: FieldError[]; headers?: HeadersInit } = {},
  ) {
    super(status, { message: detail, res: problemResponse(kind, status, detail, extra) });
  }
}

/** Renders a zod issue path as a field name: ["urls", 3] -> "urls[3]". */
export function fieldName(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || 'body';
}

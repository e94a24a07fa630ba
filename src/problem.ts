import { PROBLEM_KINDS, ProblemError, type FieldError, type ProblemKind } from './errors';

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

/** Writes a refused request as an `application/problem+json` response; `extend` may add fields a client of another API reads. */
export function problemResponse(problem: ProblemError, extend?: (body: Problem) => object): Response {
  const { kind, status, message: detail, extra } = problem;
  const body: Problem = { type: `urn:fanout:problem:${kind}`, title: PROBLEM_KINDS[kind].title, status, detail };
  if (extra.errors?.length) {
    body.field = extra.errors[0]!.field;
    body.errors = extra.errors;
  }
  const headers = new Headers(extra.headers);
  headers.set('content-type', 'application/problem+json; charset=utf-8');
  return new Response(JSON.stringify(extend ? extend(body) : body), { status, headers });
}

/** Shorthand: a problem of `kind` as a response. */
export function problem(kind: ProblemKind, detail: string, extra?: ProblemError['extra']): Response {
  return problemResponse(new ProblemError(kind, detail, extra));
}

/** Renders a zod issue path as a field name: ["urls", 3] -> "urls[3]". */
export function fieldName(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    // An empty name (`?=1`, `{"": 1}`) is named as the empty string it is, not as the whole body.
    else if (part === '') out += '[""]';
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || 'body';
}

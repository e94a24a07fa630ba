import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { validator } from 'hono/validator';
import * as z from 'zod/mini';
import type { $ZodIssue, $ZodType } from 'zod/v4/core';
import type { Env } from './env';
import { ProblemError, type FieldError } from './errors';
import { fieldName, problem } from './problem';

/**
 * HTTP plumbing shared by the route modules: typed validation with
 * problem+json answers, the JSON and body-size guards, and 405 answers.
 */

/** Hono's environment for fanout's routes. */
/** The Worker's bindings, and what the auth middleware learns of the caller: the client's name (never its token). */
export type AppEnv = { Bindings: Env; Variables: { client: string | null } };

/** The request body as JSON, or a 400 `malformed-json` naming `body` (for routes that read their body themselves). */
export async function readJson(c: Context<AppEnv>): Promise<unknown> {
  try {
    return await c.req.json();
  } catch (error) {
    throw new ProblemError('malformed-json', `the body is not JSON: ${error instanceof Error ? error.message : String(error)}`, { errors: [{ field: 'body', message: 'not valid JSON' }] });
  }
}

/** Turns a zod failure into 400 (or 413 when the URL list is over the limit) naming every field. */
export function validationProblem(error: { issues: readonly $ZodIssue[] }): Response {
  const errors: FieldError[] = error.issues.flatMap((issue) =>
    // An unknown option is named itself, so a typo ("concurreny") is easy to spot.
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ field: fieldName([...issue.path, key]), message: `unknown option ${JSON.stringify(key)}` }))
      : [{ field: fieldName(issue.path), message: issue.message }],
  );
  const tooMany = error.issues.find((issue) => issue.code === 'too_big' && issue.path.length === 1 && issue.path[0] === 'urls');
  if (tooMany) return problem('too-many-urls', tooMany.message, { errors: [{ field: 'urls', message: tooMany.message }] });
  return invalid(errors);
}

/** 400 invalid-request listing every offending field; the detail names the first. */
function invalid(errors: FieldError[]): Response {
  const first = errors[0]!;
  const detail = errors.length === 1 ? `${first.field}: ${first.message}` : `${errors.length} problems, first ${first.field}: ${first.message}`;
  return problem('invalid-request', detail, { errors });
}

/** Parses `value` with the environment's schema: the typed value, or the problem to answer. */
function parse<S extends $ZodType>(schema: S, value: unknown): z.output<S> | Response {
  const result = z.safeParse(schema, value);
  return result.success ? result.data : validationProblem(result.error);
}

/**
 * Validates the JSON body with the schema for this deployment's limits
 * (chosen per request: it depends on the vars). Routes read the typed value
 * with `c.req.valid('json')`.
 */
export function validJson<S extends $ZodType>(schemaFor: (env: Env) => S) {
  return validator('json', (value, c: Context<AppEnv>) => parse(schemaFor(c.env), value));
}

/** A query string as the object a schema judges, and the single-valued parameters given more than once. */
export interface QueryObject {
  request: Record<string, unknown>;
  repeated: string[];
}

/**
 * Every parameter as given, each once; unknown names included (`__proto__`
 * too: the object has no prototype to swallow it), so a strict schema refuses
 * them by name as it does for a JSON body.
 */
export function plainQuery(params: URLSearchParams): QueryObject {
  const request: Record<string, unknown> = Object.create(null);
  const repeated = new Set<string>();
  for (const [key, value] of params) {
    if (Object.hasOwn(request, key)) repeated.add(key);
    else request[key] = value;
  }
  return { request, repeated: [...repeated] };
}

/**
 * Validates the query string the way a body is validated: `toRequest` maps
 * the parameters onto the schema's shape, a strict schema refuses unknown
 * ones by name, and a single-valued parameter given twice is refused by name
 * (which one to take would be a guess). Routes read the typed value with
 * `c.req.valid('query')`.
 */
export function validQuery<S extends $ZodType>(schemaFor: (env: Env) => S, toRequest: (params: URLSearchParams) => QueryObject = plainQuery) {
  return validator('query', (_value, c: Context<AppEnv>) => {
    const { request, repeated } = toRequest(new URL(c.req.url).searchParams);
    if (repeated.length > 0) {
      return invalid(repeated.map((name) => ({ field: fieldName([name]), message: `${fieldName([name])} was given more than once; give it once` })));
    }
    return parse(schemaFor(c.env), request);
  });
}

/** 415 unless the body is declared JSON. */
export const requireJson: MiddlewareHandler<AppEnv> = async (c, next) => {
  const type = c.req.header('content-type') ?? '';
  const media = type.split(';')[0]!.trim().toLowerCase();
  if (!/^application\/([\w.-]+\+)?json$/.test(media)) {
    throw new ProblemError('unsupported-media-type', `expected Content-Type application/json, got ${JSON.stringify(type || '(none)')}`, {
      errors: [{ field: 'content-type', message: 'must be application/json' }],
    });
  }
  return next();
};

/** Request body ceiling for POST /v1/fetch and PUT /v1/watchlists/:name: 100 URLs of 8 KiB fit with room to spare. */
export const MAX_REQUEST_BYTES = 1_048_576;

/** 413 past the request body limit (Hono's bodyLimit counts the bytes as they stream). */
export const limitBody = bodyLimit({
  maxSize: MAX_REQUEST_BYTES,
  onError: () => {
    throw new ProblemError('body-too-large', `request body is over ${MAX_REQUEST_BYTES} bytes`, {
      errors: [{ field: 'body', message: `at most ${MAX_REQUEST_BYTES} bytes` }],
    });
  },
});

/** 405 with an Allow header for known paths and the wrong method. */
export const methodNotAllowed = (allow: string[]) => (c: Context<AppEnv>): never => {
  // Thrown, not answered: the app's error handler writes every refusal (in Firecrawl's shape on its paths).
  throw new ProblemError('method-not-allowed', `${c.req.method} is not allowed on ${c.req.path}; use ${allow.join(' or ')}`, {
    errors: [{ field: 'method', message: `allowed: ${allow.join(', ')}` }],
    headers: { allow: allow.join(', ') },
  });
};

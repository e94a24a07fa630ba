import { zValidator } from '@hono/zod-validator';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { $ZodIssue, $ZodType } from 'zod/v4/core';
import type { Env } from './env';
import { ENGINE } from './options';
import { fieldName, ProblemException, problemResponse, type FieldError } from './problem';

/**
 * HTTP plumbing shared by the route modules: validation through
 * @hono/zod-validator with problem+json answers, the JSON and body-size
 * guards, and 405 answers.
 */

/** Hono's environment for fanout's routes. */
export type AppEnv = { Bindings: Env };

/** Turns a zod failure into 400 (or 413 when the URL list is over the limit) naming every field. */
export function validationProblem(error: { issues: readonly $ZodIssue[] }): Response {
  const errors: FieldError[] = error.issues.flatMap((issue) =>
    // An unknown option is named itself, so a typo ("concurreny") is easy to spot.
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ field: fieldName([...issue.path, key]), message: `unknown option ${JSON.stringify(key)}` }))
      : [{ field: fieldName(issue.path), message: issue.message }],
  );
  const tooMany = error.issues.find((issue) => issue.code === 'too_big' && issue.path.length === 1 && issue.path[0] === 'urls');
  if (tooMany) {
    return problemResponse('too-many-urls', 413, tooMany.message, { errors: [{ field: 'urls', message: tooMany.message }] });
  }
  const first = errors[0]!;
  const detail = errors.length === 1 ? `${first.field}: ${first.message}` : `${errors.length} problems, first ${first.field}: ${first.message}`;
  return problemResponse('invalid-request', 400, detail, { errors });
}

/**
 * zod validation through @hono/zod-validator. The schema is chosen per request
 * because it depends on the deployment's maxima (wrangler.toml [vars]).
 */
export function validate(target: 'json' | 'query', schemaFor: (env: Env) => $ZodType): MiddlewareHandler<AppEnv> {
  return (c, next) => {
    const middleware = zValidator(target, schemaFor(c.env), (result) => {
      if (!result.success) return validationProblem(result.error);
    }) as unknown as MiddlewareHandler<AppEnv>;
    return middleware(c, next);
  };
}

/** 415 unless the body is declared JSON. */
export const requireJson: MiddlewareHandler<AppEnv> = async (c, next) => {
  const type = c.req.header('content-type') ?? '';
  const media = type.split(';')[0]!.trim().toLowerCase();
  if (!/^application\/([\w.-]+\+)?json$/.test(media)) {
    throw new ProblemException('unsupported-media-type', 415, `expected Content-Type application/json, got ${JSON.stringify(type || '(none)')}`, {
      errors: [{ field: 'content-type', message: 'must be application/json' }],
    });
  }
  return next();
};

/** 413 past the request body limit (Hono's bodyLimit counts the bytes as they stream). */
export const limitBody = bodyLimit({
  maxSize: ENGINE.maxRequestBytes,
  onError: () => {
    throw new ProblemException('body-too-large', 413, `request body is over ${ENGINE.maxRequestBytes} bytes`, {
      errors: [{ field: 'body', message: `at most ${ENGINE.maxRequestBytes} bytes` }],
    });
  },
});

/** 405 with an Allow header for known paths and the wrong method. */
export const methodNotAllowed = (allow: string[]) => (c: Context<AppEnv>) =>
  problemResponse('method-not-allowed', 405, `${c.req.method} is not allowed on ${c.req.path}; use ${allow.join(' or ')}`, {
    errors: [{ field: 'method', message: `allowed: ${allow.join(', ')}` }],
    headers: { allow: allow.join(', ') },
  });

/**
 * Checks an RFC 9457 problem document as fanout answers it. Imports nothing but
 * vitest, so tests inside workerd and the Node end-to-end tests can share it.
 */
import { expect } from 'vitest';

/** A problem document as fanout sends it (`field` and `errors` are fanout's extensions). */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** The first offending field; absent when no field is to blame. */
  field?: string;
  errors?: { field: string; message: string }[];
}

/**
 * Expects `res` to be a problem+json answer with `status` (and, when given,
 * naming `field`), with a fanout problem type and a non-empty detail; returns
 * the document for further checks.
 */
export async function expectProblem(res: Response, status: number, field?: string): Promise<ProblemBody> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const problem = JSON.parse(text) as ProblemBody;
  expect(problem.status).toBe(status);
  expect(problem.type).toMatch(/^urn:fanout:problem:/);
  if (field !== undefined) expect(problem.field).toBe(field);
  expect(problem.detail.length).toBeGreaterThan(0);
  return problem;
}

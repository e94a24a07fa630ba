/**
 * vitest globalSetup: starts the hostile test origin (./../origin/server.ts) in
 * Node before any test file runs, and hands its port to the tests inside workerd
 * through `inject('originPort')`, since they share no memory with Node.
 */
import type { TestProject } from 'vitest/node';
import { startOrigin } from '../origin/server';

/** Starts the origin and returns the teardown that closes it (and every socket it holds). */
export default async function setupOrigin(project: TestProject): Promise<() => Promise<void>> {
  const origin = await startOrigin();
  project.provide('originPort', origin.port);
  return () => origin.close();
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** Port of the test origin, listening on both 127.0.0.1 and 127.0.0.2. */
    originPort: number;
  }
}

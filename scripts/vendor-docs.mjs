#!/usr/bin/env node
/**
 * Copies the API reference page's script (Scalar's standalone build, from the
 * pinned dev dependency @scalar/api-reference) into public/, the Worker's
 * static assets (wrangler.toml [assets]), so GET /docs loads it from the
 * deployment itself and never from a CDN. Runs after every `npm install` and
 * `npm ci` (the package's postinstall); the copy is not committed.
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const target = path.join(root, 'public', 'docs', 'scalar.js');
mkdirSync(path.dirname(target), { recursive: true });
// The package exports no path to its browser build; it is this file in every 1.x release.
const source = path.join(root, 'node_modules', '@scalar', 'api-reference', 'dist', 'browser', 'standalone.js');
if (!existsSync(source)) {
  // A production-only install (npm ci --omit=dev) has no Scalar: /docs then says its script is missing.
  console.warn(`vendor-docs: ${source} is missing; /docs will have no script`);
} else {
  copyFileSync(source, target);
}

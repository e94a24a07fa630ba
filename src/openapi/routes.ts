import { Hono } from 'hono';
import type { AppEnv } from '../http';
import { methodNotAllowed } from '../http';
import { openApiDocument } from './document';

/**
 * GET /openapi.json (the OpenAPI 3.1 document of this deployment) and GET
 * /docs (an interactive reference page for it). The page's script is Scalar's
 * standalone build, served from this deployment's static assets at
 * /docs/scalar.js (wrangler.toml [assets]); the page loads nothing from any
 * other host, and its Content-Security-Policy says so.
 */

/** Where the assets put the reference page's script. */
export const DOCS_SCRIPT = '/docs/scalar.js';

/**
 * Scalar's settings: no web fonts from its CDN, and none of its hosted
 * services (the AI agent, the SDK generator, the developer toolbar), which
 * would call scalar.com; the page reads the document from this deployment.
 */
const SCALAR_CONFIGURATION = JSON.stringify({
  withDefaultFonts: false,
  showDeveloperTools: 'never',
  agent: { disabled: true },
  mcp: { disabled: true },
  hideClientButton: true,
  // Every group of operations open, so the page reads (and searches) as one reference.
  defaultOpenAllTags: true,
  telemetry: false,
  metaData: { title: 'fanout API reference' },
});

const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fanout API reference</title>
<style>body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}</style>
</head>
<body>
<noscript>This page needs JavaScript; the document itself is at <a href="/openapi.json">/openapi.json</a>.</noscript>
<script id="api-reference" data-url="/openapi.json" data-configuration='${SCALAR_CONFIGURATION}'></script>
<script src="${DOCS_SCRIPT}"></script>
</body>
</html>
`;

/** Scripts only from this deployment; styles inline (Scalar writes its own); fetches only to this origin. */
const DOCS_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

export const openApiRoutes = new Hono<AppEnv>()
  .get('/openapi.json', (c) => {
    c.header('cache-control', 'no-cache');
    c.header('access-control-allow-origin', '*');
    return c.json(openApiDocument(c.env));
  })
  .get('/docs', (c) => {
    c.header('content-security-policy', DOCS_CSP);
    c.header('x-content-type-options', 'nosniff');
    c.header('referrer-policy', 'no-referrer');
    return c.html(DOCS_PAGE);
  })
  .all('/openapi.json', methodNotAllowed(['GET']))
  .all('/docs', methodNotAllowed(['GET']));

import type { ErrorCode, Format } from '../result';
import { PLAYGROUND_SCRIPT } from './script';

/**
 * The playground page: one HTML document with inline CSS and the inline
 * script of ./script.ts, and nothing else (no framework, no font, nothing
 * from any other host). The deployment's settings go in as a JSON data block
 * that the script reads; the script and the style stay constant, so the
 * Content-Security-Policy can allow exactly them by hash.
 */

/** What the page needs to know of the deployment. */
export interface PlaygroundSettings {
  /** Whether the API wants a bearer token (API_TOKEN or API_TOKENS is set): the page shows the token field. */
  auth: boolean;
  /** The deployment's maxima the form enforces (MAX_URLS, MAX_CONCURRENCY, MAX_TIMEOUT_MS). */
  limits: { maxUrls: number; maxConcurrency: number; maxTimeoutMs: number };
  /** What a request gets for an option it leaves out; the form starts there and leaves such options out. */
  defaults: { concurrency: number; timeoutMs: number };
  formats: readonly Format[];
  /** One sentence per error code, shown under an error row. */
  errorHelp: Readonly<Record<ErrorCode, string>>;
  /** The User-Agent origins see (USER_AGENT, or fanout's default). */
  userAgent: string;
  version: string;
}

const STYLE = `
:root{color-scheme:light dark;--bg:#fff;--fg:#1a1a1a;--muted:#545b62;--line:#c4c9ce;--panel:#f4f6f8;--accent:#0a58ca;--on-accent:#fff;--focus:#0a58ca;--bad:#b00020;--bad-bg:#fdecee;--on-bad:#fff;--good:#1a7f37;--queued:#7b8794;--ttfb:#2563eb;--body:#15803d}
@media (prefers-color-scheme:dark){:root{--bg:#121417;--fg:#e8eaed;--muted:#a9b1ba;--line:#444b53;--panel:#1c2025;--accent:#8ab8ff;--on-accent:#0b1220;--focus:#8ab8ff;--bad:#ff8f8f;--bad-bg:#3a1d21;--on-bad:#1a0b0d;--good:#6fd08c;--queued:#7d8894;--ttfb:#60a5fa;--body:#4ade80}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header,main,footer{max-width:1200px;margin:0 auto;padding:0 20px}
header{padding-top:16px}
h1{font-size:1.5rem;margin:0 0 4px}
h2{font-size:1.15rem;margin:24px 0 8px}
a{color:var(--accent)}
p{margin:0 0 8px}
.hint,footer{color:var(--muted);font-size:.875rem}
footer{padding-top:12px;padding-bottom:24px}
form{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:16px;background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:16px}
@media (max-width:760px){form{grid-template-columns:minmax(0,1fr)}}
.options{display:grid;grid-template-columns:1fr 1fr;gap:10px 14px;align-content:start}
.wide{grid-column:1/-1}
label,legend{display:block;font-weight:600;font-size:.875rem;margin-bottom:4px}
textarea,input[type=text],input[type=number],input[type=password]{width:100%;font:inherit;color:var(--fg);background:var(--bg);border:1px solid var(--muted);border-radius:6px;padding:6px 8px}
textarea{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem;min-height:9.5em;resize:vertical;flex:1}
.urls{display:flex;flex-direction:column}
fieldset{border:0;margin:0;padding:0}
.checks{display:flex;flex-wrap:wrap;gap:4px 14px}
.check{display:flex;align-items:center;gap:6px}
.check label{display:inline;font-weight:400;margin:0;font-size:.9rem}
input[type=checkbox]{width:1.05rem;height:1.05rem;accent-color:var(--accent);margin:0}
.actions{grid-column:1/-1;display:flex;flex-wrap:wrap;gap:8px;align-items:center}
button{font:inherit;font-size:.9rem;border-radius:6px;border:1px solid var(--muted);background:var(--bg);color:var(--fg);padding:6px 14px;cursor:pointer}
button[type=submit]{background:var(--accent);border-color:var(--accent);color:var(--on-accent);font-weight:600;padding:6px 22px}
button:disabled{opacity:.55;cursor:default}
button[aria-pressed=true]{background:var(--panel);border-color:var(--accent);font-weight:600}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
#problem p{border-left:4px solid var(--bad);background:var(--bad-bg);padding:8px 12px;margin-top:12px}
#progress{margin-top:12px;min-height:1.45em;color:var(--muted)}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;align-items:center;color:var(--muted);font-size:.875rem}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:4px;vertical-align:-1px}
.table-wrap{overflow-x:auto;border:1px solid var(--line);border-radius:8px}
table{width:100%;border-collapse:collapse;font-size:.875rem}
th,td{text-align:left;vertical-align:top;padding:7px 9px;border-bottom:1px solid var(--line)}
thead th{background:var(--panel);font-size:.8rem}
tbody tr:last-child>*{border-bottom:0}
.num{width:2.5em;font-variant-numeric:tabular-nums}
td.url{min-width:15em;max-width:22em;overflow-wrap:anywhere;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.8rem}
td.title{max-width:14em;font-weight:600}
td.snippet{min-width:16em}
td.snippet p{margin:0 0 4px}
.clamp{display:-webkit-box;-webkit-box-orient:vertical;-webkit-line-clamp:4;overflow:hidden}
td.empty{color:var(--muted);text-align:center;padding:18px}
td.status{white-space:nowrap}
tr[data-state=pending] td.status,tr[data-state=cancelled] td.status,tr[data-state=refused] td.status{color:var(--muted);font-style:italic}
tr[data-state=ok] .code-num{color:var(--good);font-weight:600}
tr[data-state=error]{background:var(--bad-bg)}
tr[data-state=error] .code-num{color:var(--bad);font-weight:600}
.badge{display:inline-block;background:var(--bad);color:var(--on-bad);border-radius:4px;padding:0 6px;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.78rem;font-weight:600}
.help{font-weight:600}
.message{color:var(--muted);overflow-wrap:anywhere}
td.timing{width:190px;min-width:150px}
.bar{display:flex;height:10px;background:var(--panel);border:1px solid var(--line);border-radius:3px;overflow:hidden;margin-top:4px}
.bar span{display:block;height:100%}
.queued{background:var(--queued)}.ttfb{background:var(--ttfb)}.body{background:var(--body)}
.ms{font-size:.78rem;color:var(--muted);font-variant-numeric:tabular-nums}
#stats{margin-top:8px;font-weight:600}
#preview{border:1px solid var(--line);border-radius:8px;padding:4px 16px 12px;margin-top:16px}
#preview-url{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.8rem;color:var(--muted);overflow-wrap:anywhere}
.md{max-width:80ch;max-height:36em;overflow:auto;padding-right:8px}
.md h3,.md h4,.md h5,.md h6{margin:14px 0 6px}
.md blockquote{border-left:3px solid var(--line);margin:0 0 8px;padding-left:12px;color:var(--muted)}
pre{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:8px;overflow:auto;font-size:.8rem;white-space:pre-wrap;overflow-wrap:anywhere}
code{font-family:ui-monospace,Menlo,Consolas,monospace}
details{margin-top:8px}
summary{cursor:pointer}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
`;

/** `value` as JSON that cannot end or open an element inside `<script>`: `<`, `>`, `&` and the line separators as \u escapes. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The page for these settings. Every number it writes into markup is a parsed limit; every string goes through the JSON block. */
export function playgroundPage(settings: PlaygroundSettings): string {
  const { limits, defaults } = settings;
  const formats = settings.formats
    .map((name) => `<span class="check"><input type="checkbox" id="format-${name}" value="${name}"><label for="format-${name}">${name}</label></span>`)
    .join('');
  const token = settings.auth
    ? `<div class="wide"><label for="token">API token (bearer)</label><input type="password" id="token" autocomplete="off" spellcheck="false" aria-describedby="token-hint"><p class="hint" id="token-hint">This deployment needs one. Kept in this tab only (sessionStorage), sent only to this origin.</p></div>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>fanout playground</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>fanout playground</h1>
<p>Fetch many URLs at once and watch the results arrive. <a href="/docs">API reference</a> · <a href="/openapi.json">OpenAPI document</a></p>
</header>
<main>
<form id="run-form">
<div class="urls">
<label for="urls">URLs, one per line</label>
<textarea id="urls" rows="8" spellcheck="false" autocapitalize="off" aria-describedby="urls-hint"></textarea>
<p class="hint" id="urls-hint">Up to ${limits.maxUrls} URLs (MAX_URLS). Ctrl+Enter runs.</p>
</div>
<div class="options">
<div><label for="concurrency">Concurrency</label><input type="number" id="concurrency" min="1" max="${limits.maxConcurrency}" step="1" value="${defaults.concurrency}" required aria-describedby="concurrency-hint"><p class="hint" id="concurrency-hint">1 to ${limits.maxConcurrency}</p></div>
<div><label for="timeoutMs">Timeout per URL (ms)</label><input type="number" id="timeoutMs" min="100" max="${limits.maxTimeoutMs}" step="100" value="${defaults.timeoutMs}" required aria-describedby="timeout-hint"><p class="hint" id="timeout-hint">100 to ${limits.maxTimeoutMs}</p></div>
<div><label for="selector">Snippet from selector</label><input type="text" id="selector" maxlength="1024" spellcheck="false" placeholder="article p"></div>
<div><label for="query">Snippet matching words</label><input type="text" id="query" maxlength="1024" placeholder="pricing plans"></div>
<fieldset class="wide"><legend>Formats</legend><div class="checks">${formats}</div></fieldset>
<div class="wide check"><input type="checkbox" id="onlyMainContent" checked><label for="onlyMainContent">Only the main content (markdown, text, html)</label></div>
${token}
</div>
<div class="actions">
<button type="submit" id="run">Run</button>
<button type="button" id="cancel" disabled>Cancel</button>
<button type="button" id="copy-curl">Copy as curl</button>
<button type="button" id="copy-json">Copy as JSON</button>
</div>
</form>
<p id="progress" role="status" aria-live="polite"></p>
<div id="problem" role="alert"></div>
<details id="copied-view" hidden><summary>Last copied request</summary><pre id="copied"></pre></details>
<section aria-labelledby="results-heading">
<h2 id="results-heading">Results</h2>
<p class="legend" id="timing-legend">Timing bars, scaled to the slowest URL: <span><i class="queued"></i>queued</span><span><i class="ttfb"></i>waiting for headers</span><span><i class="body"></i>body</span></p>
<div class="table-wrap">
<table id="results" aria-describedby="timing-legend">
<thead><tr><th scope="col">#</th><th scope="col">URL</th><th scope="col">Status</th><th scope="col">Title</th><th scope="col">Snippet</th><th scope="col">Timing</th><th scope="col">Result</th></tr></thead>
<tbody><tr><td class="empty" colspan="7">No results yet: paste URLs above and press Run.</td></tr></tbody>
</table>
</div>
<p id="stats"></p>
</section>
<section id="preview" aria-labelledby="preview-heading" hidden>
<h2 id="preview-heading" tabindex="-1">Preview</h2>
<p id="preview-url"></p>
<div id="preview-body" class="md" tabindex="0" role="region" aria-label="Content of the previewed page"></div>
<details><summary>The whole result (JSON)</summary><pre id="preview-json"></pre></details>
</section>
</main>
<footer>fanout ${settings.version}. Origins see the User-Agent <code id="user-agent"></code>.</footer>
<script type="application/json" id="settings">${scriptJson(settings)}</script>
<script>${PLAYGROUND_SCRIPT}</script>
</body>
</html>
`;
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return `'sha256-${btoa(String.fromCharCode(...new Uint8Array(digest)))}'`;
}

/** Kept once computed: the string, not a pending promise, so no request waits on another request's work. */
let policy: string | undefined;

/**
 * The page's Content-Security-Policy: the inline script and style allowed by
 * their SHA-256 and nothing else runs or styles (no inline handlers, no other
 * script); fetches only to this origin; no frames, no base URL, no form posts.
 */
export async function playgroundPolicy(): Promise<string> {
  policy ??= [
    "default-src 'none'",
    `script-src ${await sha256(PLAYGROUND_SCRIPT)}`,
    `style-src ${await sha256(STYLE)}`,
    "connect-src 'self'",
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return policy;
}

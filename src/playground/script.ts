/**
 * The playground's browser script, as the text the page inlines. Plain
 * JavaScript for any current browser: no framework, no build step, nothing
 * loaded from elsewhere. The page's Content-Security-Policy allows exactly
 * this text by its SHA-256 (src/playground/page.ts), so it must stay a
 * constant: the deployment's settings reach it through the JSON block
 * `#settings`, never by interpolation. Written with String.raw, so it reads
 * as the JavaScript it is; it holds no backtick and no dollar-brace.
 *
 * What it does: reads the form, POSTs /v1/fetch asking for NDJSON, and fills
 * one table row per URL as its line arrives (a line may be preceded by the
 * whitespace heartbeat, so lines are trimmed); the timing bars are rescaled to
 * the slowest URL on every line; error codes get their explanation from the
 * settings; Markdown is rendered into DOM nodes with textContent (never
 * innerHTML), so a page's text cannot become markup.
 */
export const PLAYGROUND_SCRIPT = String.raw`
'use strict';
(function () {
  var settings = JSON.parse(document.getElementById('settings').textContent);
  var $ = function (id) { return document.getElementById(id); };
  var form = $('run-form'), runButton = $('run'), cancelButton = $('cancel');
  var tbody = $('results').tBodies[0], progress = $('progress'), problemBox = $('problem'), statsLine = $('stats');
  var tokenInput = $('token');
  var TOKEN_KEY = 'fanout.playground.token';
  var controller = null;
  var rows = [];
  var previewed = null;

  $('user-agent').textContent = settings.userAgent;

  // The token lives in this tab's sessionStorage at most: gone when the tab closes.
  if (tokenInput) {
    try { tokenInput.value = sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { /* storage disabled */ }
    tokenInput.addEventListener('input', function () {
      try {
        if (tokenInput.value) sessionStorage.setItem(TOKEN_KEY, tokenInput.value);
        else sessionStorage.removeItem(TOKEN_KEY);
      } catch (e) { /* storage disabled: the field still works for this page */ }
    });
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function urlsOfForm() {
    return $('urls').value.split('\n').map(function (line) { return line.trim(); }).filter(Boolean);
  }

  /** The request body as the form says; options left at their defaults are left out. */
  function requestBody() {
    var body = { urls: urlsOfForm() };
    var concurrency = Number($('concurrency').value);
    var timeoutMs = Number($('timeoutMs').value);
    if (concurrency !== settings.defaults.concurrency) body.concurrency = concurrency;
    if (timeoutMs !== settings.defaults.timeoutMs) body.timeoutMs = timeoutMs;
    var formats = settings.formats.filter(function (name) { return $('format-' + name).checked; });
    if (formats.length) body.formats = formats;
    var selector = $('selector').value.trim();
    var query = $('query').value.trim();
    if (selector) body.selector = selector;
    if (query) body.query = query;
    if (!$('onlyMainContent').checked) body.onlyMainContent = false;
    return body;
  }

  function requestHeaders() {
    var headers = { 'content-type': 'application/json', accept: 'application/x-ndjson' };
    if (tokenInput && tokenInput.value.trim()) headers.authorization = 'Bearer ' + tokenInput.value.trim();
    return headers;
  }

  var endpoint = location.origin + '/v1/fetch';

  function shellQuote(text) { return "'" + text.replace(/'/g, "'\\''") + "'"; }

  function asCurl() {
    var headers = requestHeaders();
    var parts = ['curl -sN ' + shellQuote(endpoint)];
    Object.keys(headers).forEach(function (name) { parts.push('-H ' + shellQuote(name + ': ' + headers[name])); });
    parts.push('--data-binary ' + shellQuote(JSON.stringify(requestBody())));
    return parts.join(' ');
  }

  function say(text) { progress.textContent = text; }

  function urlCount(n) { return n + (n === 1 ? ' URL' : ' URLs'); }

  function showProblem(text) {
    problemBox.textContent = '';
    if (text) problemBox.appendChild(el('p', null, text));
  }

  function copy(text, what) {
    $('copied').textContent = text;
    $('copied-view').hidden = false;
    var done = function () { say(what + ' copied to the clipboard.'); };
    var failed = function () {
      var view = $('copied-view');
      view.open = true;
      var range = document.createRange();
      range.selectNodeContents($('copied'));
      var selection = getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      say('The clipboard is not available here: ' + what + ' is shown and selected below; press Ctrl+C to copy it.');
    };
    if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(text).then(done, failed);
    else failed();
  }

  $('copy-curl').addEventListener('click', function () { copy(asCurl(), 'The curl command'); });
  $('copy-json').addEventListener('click', function () { copy(JSON.stringify(requestBody(), null, 2), 'The request body (JSON)'); });

  // Ctrl+Enter (or Cmd+Enter) in the URL list runs, as Enter on the Run button does.
  $('urls').addEventListener('keydown', function (event) {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) { event.preventDefault(); form.requestSubmit(); }
  });

  cancelButton.addEventListener('click', function () { if (controller) controller.abort(); });

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    if (!controller) run();
  });

  function newRow(index, url) {
    var tr = el('tr');
    tr.dataset.index = String(index);
    tr.dataset.state = 'pending';
    var cells = {
      index: el('th', 'num', String(index)),
      url: el('td', 'url', url),
      status: el('td', 'status', 'waiting'),
      title: el('td', 'title'),
      snippet: el('td', 'snippet'),
      timing: el('td', 'timing'),
      preview: el('td', 'preview'),
    };
    cells.index.scope = 'row';
    Object.keys(cells).forEach(function (key) { tr.appendChild(cells[key]); });
    tbody.appendChild(tr);
    return { tr: tr, cells: cells, url: url, result: null, button: null };
  }

  function fillRow(row, result) {
    row.result = result;
    var error = result.error;
    row.tr.dataset.state = error ? 'error' : 'ok';
    var c = row.cells;
    c.status.textContent = '';
    c.status.appendChild(el('span', 'code-num', result.status === null ? '-' : String(result.status)));
    if (error) {
      c.status.appendChild(document.createTextNode(' '));
      c.status.appendChild(el('span', 'badge', error.code));
    }
    c.title.textContent = result.title || '';
    c.snippet.textContent = '';
    if (error) {
      c.snippet.appendChild(el('p', 'help', settings.errorHelp[error.code] || ''));
      c.snippet.appendChild(el('p', 'message', error.message));
    }
    if (result.snippet) c.snippet.appendChild(el('p', 'clamp', result.snippet));
    c.preview.textContent = '';
    var button = el('button', null, 'Show');
    button.type = 'button';
    button.setAttribute('aria-label', 'Show result ' + row.tr.dataset.index);
    button.setAttribute('aria-pressed', 'false');
    row.button = button;
    button.addEventListener('click', function () { preview(row, true); });
    c.preview.appendChild(button);
    if (!previewed && result.ok && typeof result.markdown === 'string') preview(row, false);
  }

  /** Every bar as queued / first byte / body, all scaled to the slowest URL so far. */
  function drawBars() {
    var total = function (t) { return t.queuedMs + (t.ttfbMs || 0) + (t.bodyMs || 0); };
    var slowest = rows.reduce(function (most, row) { return row.result ? Math.max(most, total(row.result.timings)) : most; }, 0) || 1;
    rows.forEach(function (row) {
      if (!row.result) return;
      var t = row.result.timings;
      var bar = el('div', 'bar');
      bar.setAttribute('role', 'img');
      bar.setAttribute('aria-label', 'queued ' + t.queuedMs + ' ms, first byte ' + (t.ttfbMs === null ? 'none' : t.ttfbMs + ' ms') + ', body ' + (t.bodyMs === null ? 'none' : t.bodyMs + ' ms'));
      [['queued', t.queuedMs], ['ttfb', t.ttfbMs || 0], ['body', t.bodyMs || 0]].forEach(function (part) {
        var span = el('span', part[0]);
        span.style.width = (100 * part[1] / slowest) + '%';
        bar.appendChild(span);
      });
      row.cells.timing.textContent = '';
      row.cells.timing.appendChild(bar);
      row.cells.timing.appendChild(el('span', 'ms', total(t) + ' ms'));
    });
  }

  function preview(row, focus) {
    if (previewed && previewed.button) previewed.button.setAttribute('aria-pressed', 'false');
    previewed = row;
    row.button.setAttribute('aria-pressed', 'true');
    var result = row.result;
    $('preview').hidden = false;
    $('preview-url').textContent = '#' + row.tr.dataset.index + ' ' + result.url;
    var body = $('preview-body');
    body.textContent = '';
    if (typeof result.markdown === 'string') renderMarkdown(result.markdown, body);
    else if (typeof result.text === 'string') body.appendChild(el('pre', null, result.text));
    else body.appendChild(el('p', 'hint', 'No markdown or text for this URL: tick a content format to see its content here.'));
    $('preview-json').textContent = JSON.stringify(result, null, 2);
    if (focus) $('preview-heading').focus();
  }

  async function run() {
    var body = requestBody();
    showProblem('');
    if (!body.urls.length) { showProblem('Enter at least one URL, one per line.'); $('urls').focus(); return; }
    if (body.urls.length > settings.limits.maxUrls) {
      showProblem('This deployment takes at most ' + settings.limits.maxUrls + ' URLs per request (MAX_URLS); the list has ' + body.urls.length + '.');
      return;
    }
    controller = new AbortController();
    runButton.disabled = true;
    cancelButton.disabled = false;
    tbody.textContent = '';
    statsLine.textContent = '';
    $('preview').hidden = true;
    previewed = null;
    rows = body.urls.map(function (url, index) { return newRow(index, url); });
    var done = 0;
    say('Running ' + urlCount(rows.length) + '.');
    try {
      var res = await fetch(endpoint, { method: 'POST', headers: requestHeaders(), body: JSON.stringify(body), signal: controller.signal });
      if (!res.ok) {
        var text = await res.text();
        var detail = text;
        try { var problem = JSON.parse(text); detail = problem.title + ': ' + problem.detail; } catch (e) { /* not problem+json */ }
        var hint = res.status === 401 && tokenInput ? ' Enter the API token above.' : '';
        showProblem(res.status + ' ' + detail + hint);
        say('The request was refused (' + res.status + ').');
        rows.forEach(function (row) { row.tr.dataset.state = 'refused'; row.cells.status.textContent = 'not run'; });
        return;
      }
      var reader = res.body.getReader();
      var decoder = new TextDecoder();
      var buffered = '';
      var handle = function (line) {
        line = line.trim(); // the heartbeat: spaces before a line
        if (!line) return;
        var message = JSON.parse(line);
        if (message.stats) { showStats(message.stats); return; }
        fillRow(rows[message.index], message);
        drawBars();
        done++;
        say(done + ' of ' + rows.length + ' done.');
      };
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) break;
        buffered += decoder.decode(chunk.value, { stream: true });
        for (var newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
          handle(buffered.slice(0, newline));
          buffered = buffered.slice(newline + 1);
        }
      }
      handle(buffered + decoder.decode());
    } catch (error) {
      if (controller.signal.aborted) {
        say('Cancelled: ' + done + ' of ' + rows.length + ' done.');
        statsLine.textContent = 'Cancelled after ' + done + ' of ' + urlCount(rows.length) + '.';
        rows.forEach(function (row) { if (!row.result) { row.tr.dataset.state = 'cancelled'; row.cells.status.textContent = 'cancelled'; } });
      } else {
        showProblem('The request failed: ' + error.message);
        say('The request failed.');
      }
    } finally {
      controller = null;
      runButton.disabled = false;
      cancelButton.disabled = true;
    }
  }

  function showStats(stats) {
    var text = urlCount(stats.total) + ': ' + stats.ok + ' ok, ' + stats.failed + ' failed, in ' + stats.durationMs + ' ms' +
      (stats.deadlineReached ? ' (deadline reached)' : '') + (stats.shards > 1 ? ' over ' + stats.shards + ' invocations' : '') + '.';
    statsLine.textContent = text;
    say('Done. ' + text);
  }

  // Markdown as DOM nodes: headings, paragraphs, lists, quotes, rules, code
  // blocks, inline code, links (http and https only), bold and italics.
  // Tables and anything else stay as text. Nothing is parsed as HTML.
  function renderMarkdown(source, into) {
    var lines = source.replace(/\r\n?/g, '\n').split('\n');
    var paragraph = [], list = null;
    var flush = function () {
      if (paragraph.length) into.appendChild(inline(paragraph.join(' '), el('p')));
      paragraph = [];
    };
    for (var i = 0; i < lines.length; i++) {
      var line = lines[i], match;
      if ((match = /^\s*(\x60{3,}|~{3,})/.exec(line))) {
        flush(); list = null;
        var code = [];
        for (i++; i < lines.length && lines[i].trim().indexOf(match[1]) !== 0; i++) code.push(lines[i]);
        var pre = el('pre');
        pre.appendChild(el('code', null, code.join('\n')));
        into.appendChild(pre);
      } else if (/^\s*$/.test(line)) {
        flush(); list = null;
      } else if ((match = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line))) {
        flush(); list = null;
        // Under the preview's own h2: # becomes h3, and so on down to h6.
        into.appendChild(inline(match[2], el('h' + Math.min(6, match[1].length + 2))));
      } else if (/^\s{0,3}([-*_])(\s*\1){2,}\s*$/.test(line)) {
        flush(); list = null;
        into.appendChild(el('hr'));
      } else if ((match = /^\s*([-*+]|\d{1,9}[.)])\s+(.*)$/.exec(line))) {
        flush();
        var tag = /\d/.test(match[1]) ? 'OL' : 'UL';
        if (!list || list.tagName !== tag) list = into.appendChild(el(tag.toLowerCase()));
        list.appendChild(inline(match[2], el('li')));
      } else if ((match = /^\s*>\s?(.*)$/.exec(line))) {
        flush(); list = null;
        into.appendChild(inline(match[1], el('blockquote')));
      } else if (/^\s*\|/.test(line)) {
        flush(); list = null;
        var rowsOfTable = [];
        for (; i < lines.length && /^\s*\|/.test(lines[i]); i++) rowsOfTable.push(lines[i]);
        i--;
        into.appendChild(el('pre', null, rowsOfTable.join('\n')));
      } else if (list && /^\s{2,}\S/.test(line)) {
        list.lastChild.appendChild(inline(' ' + line.trim(), document.createDocumentFragment()));
      } else {
        list = null;
        paragraph.push(line.trim());
      }
    }
    flush();
  }

  var INLINE = /\\([\\\x60*_{}\[\]()#+\-.!|>~<])|\x60([^\x60]+)\x60|!\[([^\]]*)\]\(([^)\s]*)[^)]*\)|\[([^\]]+)\]\(([^)\s]+)[^)]*\)|\*\*([^*]+)\*\*|__([^_]+)__|\*([^*\s][^*]*)\*|\b_([^_\s][^_]*)_\b/g;

  function inline(text, parent) {
    var last = 0, match;
    INLINE.lastIndex = 0;
    while ((match = INLINE.exec(text))) {
      if (match.index > last) parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      last = INLINE.lastIndex;
      if (match[1] !== undefined) parent.appendChild(document.createTextNode(match[1]));
      else if (match[2] !== undefined) parent.appendChild(el('code', null, match[2]));
      else if (match[4] !== undefined) parent.appendChild(document.createTextNode(match[3] ? '[image: ' + match[3] + ']' : '[image]'));
      else if (match[6] !== undefined) parent.appendChild(link(match[5], match[6]));
      else if (match[7] !== undefined || match[8] !== undefined) parent.appendChild(el('strong', null, match[7] || match[8]));
      else parent.appendChild(el('em', null, match[9] || match[10]));
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
    return parent;
  }

  function link(text, href) {
    if (!/^https?:\/\//i.test(href)) return document.createTextNode(text);
    var a = el('a', null, text);
    a.href = href;
    a.rel = 'noopener noreferrer nofollow';
    return a;
  }
})();
`;

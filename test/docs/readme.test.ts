/**
 * The README against the code it describes: the defaults and maxima its
 * tables give are the ones the code has (written once, in the code), and its
 * Layout names every source file there is and none that is gone. Runs in Node
 * (vitest project `docs`): it reads files, it does not run the Worker.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LIMIT_VARS } from '../../src/config';
import { DEFAULT_LIMITS, DEFAULTS, VERSION } from '../../src/engine/options';
import { PROBLEM_KINDS } from '../../src/errors';
import { ERROR_CODES } from '../../src/result';
import { JOB_DEFAULTS } from '../../src/jobs/settings';
import { WATCH_DEFAULTS } from '../../src/watch/settings';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** The section under a `## ` heading, up to the next one. */
function section(title: string): string {
  const start = README.indexOf(`\n## ${title}\n`);
  if (start === -1) throw new Error(`README has no section "${title}"`);
  const end = README.indexOf('\n## ', start + 1);
  return README.slice(start, end === -1 ? undefined : end);
}

/** Rows of the first Markdown table in `text` whose first cell starts with a backquoted name: name -> cells. */
function tableRows(text: string): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const match = /^\| `([^`]+)` \|(.*)\|$/.exec(line);
    if (match) rows.set(match[1]!, match[2]!.split(' | ').map((cell) => cell.trim()));
  }
  return rows;
}

describe('README Options table', () => {
  const rows = tableRows(section('Options'));

  it.each(Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[])('Should give the default of %s the code has', (option) => {
    const value = DEFAULTS[option];
    expect(rows.get(option)?.[0]).toBe(value === undefined ? 'unset' : String(value));
  });

  /** The request option each limit bounds. */
  const BOUNDS: Record<keyof typeof DEFAULT_LIMITS, string> = {
    maxUrls: 'urls',
    maxContentChars: 'maxContentChars',
    maxAge: 'maxAge',
    maxConcurrency: 'concurrency',
    maxTimeoutMs: 'timeoutMs',
    maxDeadlineMs: 'deadlineMs',
    maxBytes: 'maxBytes',
    maxRetries: 'retries',
    maxRedirects: 'maxRedirects',
    maxSnippetLength: 'snippetLength',
  };

  it.each(Object.entries(LIMIT_VARS) as [keyof typeof DEFAULT_LIMITS, string][])(
    'Should give the maximum %s and its var %s as DEFAULT_LIMITS has it',
    (limit, name) => {
      expect(rows.get(BOUNDS[limit])?.[1]).toBe(`${DEFAULT_LIMITS[limit]} (\`${name}\`)`);
    },
  );
});

describe('README Configuration table', () => {
  const rows = tableRows(section('Configuration'));

  it.each([
    ['MAX_WATCH_URLS', WATCH_DEFAULTS.maxWatchUrls],
    ['RUN_RETENTION', WATCH_DEFAULTS.retention],
    ['WATCH_INLINE_URLS', WATCH_DEFAULTS.inlineUrls],
    ['MAX_JOB_URLS', JOB_DEFAULTS.maxJobUrls],
    ['JOB_RETENTION_DAYS', JOB_DEFAULTS.retentionDays],
    ['JOB_CHUNK_URLS', JOB_DEFAULTS.chunkUrls],
    ['JOB_REDRIVE_MS', JOB_DEFAULTS.redriveMs],
  ])('Should give the default of %s the code has', (name, value) => {
    expect(rows.get(name)?.[0]).toBe(`\`"${value}"\``);
  });
});

describe('README Errors', () => {
  const errors = section('Errors');

  it('Should list every per-URL error code the code has, and no other', () => {
    const listed = [...errors.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual([...ERROR_CODES].sort());
  });

  it('Should list every problem type with the status its kind fixes, and no other', () => {
    const listed = [...errors.matchAll(/^\| (\d{3}) \| `([a-z-]+)` \|/gm)].map((m) => [m[2], Number(m[1])]);
    expect(Object.fromEntries(listed)).toEqual(Object.fromEntries(Object.entries(PROBLEM_KINDS).map(([kind, { status }]) => [kind, status])));
    expect(listed).toHaveLength(Object.keys(PROBLEM_KINDS).length);
  });
});

describe('README /health', () => {
  it('Should show the version package.json has', () => {
    expect(section('API')).toContain(`"version":"${VERSION}"`);
  });
});

describe('README Layout', () => {
  const layout = section('Layout');

  /** Every file under a directory, relative to the repository root. */
  function filesUnder(dir: string): string[] {
    return readdirSync(path.join(ROOT, dir), { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => path.relative(ROOT, path.join(entry.parentPath, entry.name)));
  }

  it('Should name every source file under src/', () => {
    const missing = filesUnder('src').filter((file) => {
      const name = path.basename(file);
      // Listed by name under its folder's line, or on the folder's own line (watch/ lists its files inline).
      return !new RegExp(`(^|[\\s(,])${name.replace('.', '\\.')}([\\s,)]|$)`, 'm').test(layout);
    });
    expect(missing).toEqual([]);
  });

  it('Should name no src/ file that does not exist', () => {
    const named = [...layout.matchAll(/^ {4}([\w-]+\.ts)/gm)].map((m) => m[1]!);
    const topLevel = [...layout.matchAll(/^ {2}([\w-]+\.ts)/gm)].map((m) => m[1]!);
    const all = new Set(filesUnder('src').map((file) => path.basename(file)));
    expect([...named, ...topLevel].filter((name) => !all.has(name))).toEqual([]);
  });

  it.each(['migrations', 'docs', 'bench', 'test/origin', 'test/helpers', 'test/fixtures', 'test/e2e'])('Should name %s/, which exists', (dir) => {
    expect(existsSync(path.join(ROOT, dir))).toBe(true);
    expect(layout).toContain(`${path.basename(dir)}/`);
  });
});

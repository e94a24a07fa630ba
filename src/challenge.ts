/**
 * Bot challenges: the interstitial a bot-protection service answers with
 * instead of the page ("Just a moment...", a captcha, a JavaScript check).
 * Such an answer is never the page, whatever its status (many come with 200
 * or 202), so fanout reports it as `challenge`, naming the vendor when it can.
 *
 * Only signs the vendors put on their challenge and block pages count, never
 * the scripts they also put on ordinary pages: Cloudflare's bot management
 * injects `/cdn-cgi/challenge-platform/scripts/jsd/main.js` into normal pages,
 * DataDome loads `js.datadome.co/tags.js`, HUMAN (PerimeterX) `client.perimeterx.net`,
 * Imperva an `_Incapsula_Resource` script: none of those alone is a challenge.
 */

/** How much of a body the signs are looked for in: challenge pages put them in their first KBs. */
export const CHALLENGE_SCAN_BYTES = 4096;

/** The vendor named in results, or `captcha` for a generic captcha interstitial. */
export type ChallengeVendor =
  | 'cloudflare'
  | 'akamai'
  | 'aws-waf'
  | 'datadome'
  | 'perimeterx'
  | 'imperva'
  | 'kasada'
  | 'sucuri'
  | 'vercel'
  | 'linkedin'
  | 'captcha';

/** A challenge told by the status and headers alone (no body needed). */
export function challengeInHeaders(status: number, headers: Headers): ChallengeVendor | null {
  // Cloudflare marks every challenge it serves (managed, JavaScript, interactive).
  if (headers.get('cf-mitigated')?.toLowerCase() === 'challenge') return 'cloudflare';
  if (headers.get('x-vercel-mitigated')?.toLowerCase() === 'challenge') return 'vercel';
  const waf = headers.get('x-amzn-waf-action')?.toLowerCase();
  if (waf === 'challenge' || waf === 'captcha') return 'aws-waf';
  // Kasada answers its challenge with 429 and its own headers.
  if (status === 429 && headers.has('x-kpsdk-ct')) return 'kasada';
  // LinkedIn's answer to clients it takes for bots.
  if (status === 999) return 'linkedin';
  return null;
}

/** Signs on a challenge or block page's markup, by vendor. */
const BODY_SIGNS: readonly [ChallengeVendor, RegExp][] = [
  ['cloudflare', /window\._cf_chl_opt|cf-browser-verification|<title>\s*(?:just a moment\.\.\.|attention required! \| cloudflare)/i],
  ['datadome', /(?:geo|ct)\.captcha-delivery\.com/i],
  ['perimeterx', /id=["']px-captcha["']|_pxCaptcha|\/px\/captcha/i],
  ['imperva', /incapsula incident id|<iframe id=["']main-iframe["'] src=["']\/_Incapsula_Resource/i],
  ['akamai', /\/_sec\/cp_challenge\/|sec-if-cpt-container/i],
  ['sucuri', /sucuri_cloudproxy_js|sucuri website firewall/i],
  ['vercel', /<title>\s*vercel security checkpoint/i],
];

/** A substring (lower case) of every sign above and of every captcha widget: a page with none of them is no challenge. */
const MARKERS = ['_cf_chl_opt', 'cf-browser-verification', 'just a moment', 'attention required', 'captcha', 'incapsula', 'cp_challenge', 'sec-if-cpt', 'sucuri', 'vercel security', 'turnstile'];

/** A generic captcha interstitial: a page that asks to prove humanity and embeds a captcha widget. */
const CAPTCHA_TITLE = /<title>[^<]*(?:are you (?:a )?(?:human|robot)|verify (?:that )?you are (?:a )?human|security check|captcha|access denied|bot (?:check|detection))[^<]*<\/title>/i;
const CAPTCHA_WIDGET = /hcaptcha\.com\/1\/api\.js|google\.com\/recaptcha\/|challenges\.cloudflare\.com\/turnstile/i;

/** Bytes as Latin-1: every byte one character, so ASCII signs read as written whatever the page's charset. */
const LATIN1 = new TextDecoder('latin1');

/** A challenge told by the first CHALLENGE_SCAN_BYTES of an HTML body. */
export function challengeInBody(bytes: Uint8Array): ChallengeVendor | null {
  const head = LATIN1.decode(bytes.subarray(0, CHALLENGE_SCAN_BYTES));
  // Nearly every page has none of the signs: a few substring searches say so before any regular expression runs.
  const lower = head.toLowerCase();
  if (!MARKERS.some((marker) => lower.includes(marker))) return null;
  for (const [vendor, sign] of BODY_SIGNS) if (sign.test(head)) return vendor;
  if (CAPTCHA_TITLE.test(head) && CAPTCHA_WIDGET.test(head)) return 'captcha';
  return null;
}

/**
 * Which URLs fanout may fetch: the SSRF guard.
 *
 * It runs on the input URL and again on every redirect hop, because an open
 * redirect on a public site is the usual way to reach an internal address
 * (OWASP SSRF Prevention Cheat Sheet, "Application layer").
 *
 * It judges the URL text only. It does not resolve DNS (workerd has no resolver API), so a
 * public name whose records point at a private address (DNS rebinding,
 * `127.0.0.1.nip.io`) is not caught here.
 *
 * Pure functions, no Node APIs: only the WHATWG `URL` that workerd provides.
 *
 * @module
 */

/**
 * Why a URL was refused: `invalid_url` (not parseable, not http/https, has
 * credentials), `blocked` (private/loopback/etc. address, or a local-only name).
 */
export type GuardCode = 'invalid_url' | 'blocked';

/**
 * What {@link checkUrl} decided. When `ok`, `url` is the parsed (and, with a
 * base, resolved) URL to fetch. When not, `code` is the fixed reason to branch
 * on and `message` is for people.
 */
export type GuardVerdict = { ok: true; url: URL } | { ok: false; code: GuardCode; message: string };

/** Longest piece of caller input quoted back in a message, so a huge input does not make a huge error. */
const MAX_QUOTED_LENGTH = 100;

/** The only schemes fanout fetches; `file:`, `data:`, `javascript:` and friends are not network fetches. */
const ALLOWED_PROTOCOLS = new Set(['http:', 'https:']);

/**
 * Check a URL (string, possibly relative when `base` is given, or a URL object).
 *
 * Checks, in order: it parses (WHATWG URL, after trimming surrounding
 * whitespace), the scheme is http or https, it carries no username or
 * password, and (unless `allowPrivate`) its host is not private, see
 * {@link isPrivateHostname}.
 *
 * @param input - The URL to check; a string is trimmed first and may be relative when `options.base` is given.
 * @param options.allowPrivate - Skip the address and name checks (tests against 127.0.0.1, trusted
 *   deployments). Scheme, credential and parse checks still apply.
 * @param options.base - Base to resolve a relative `input` against, e.g. the URL whose response carried
 *   the `Location` header. Ignored when `input` is a URL object.
 * @example
 * const verdict = checkUrl(location, { allowPrivate: false, base: currentUrl });
 * if (!verdict.ok) return { error: verdict.code, message: verdict.message };
 * await fetch(verdict.url, { redirect: 'manual' });
 */
export function checkUrl(input: string | URL, options: { allowPrivate: boolean; base?: string | URL }): GuardVerdict {
  let url: URL;
  if (input instanceof URL) {
    // A copy, so a caller that later mutates its URL object cannot change what was checked.
    url = new URL(input.href);
  } else {
    const text = input.trim();
    try {
      url = options.base === undefined ? new URL(text) : new URL(text, options.base);
    } catch {
      const relativeTo = options.base === undefined ? '' : ` relative to ${quote(String(options.base))}`;
      return refuse('invalid_url', `${quote(text)} is not a valid URL${relativeTo}`);
    }
  }

  if (!ALLOWED_PROTOCOLS.has(url.protocol)) {
    return refuse('invalid_url', `scheme ${url.protocol} is not allowed; use http or https`);
  }

  // Credentials would be sent to the target as Basic auth (Fetch standard, "HTTP-network-or-cache fetch")
  // and are a classic parser-confusion trick (http://trusted@evil). The secret itself is never echoed.
  if (url.username !== '' || url.password !== '') {
    const parts = url.password === '' ? 'a username' : url.username === '' ? 'a password' : 'a username and password';
    return refuse('invalid_url', `credentials in URLs are not allowed; remove ${parts} before ${url.host}`);
  }

  if (!options.allowPrivate) {
    const reason = privateReason(url.hostname);
    if (reason !== undefined) return refuse('blocked', `${url.hostname} is ${reason}`);
  }

  return { ok: true, url };
}

/**
 * True when the hostname (as URL.hostname gives it, IPv6 in brackets) names a
 * loopback/private/link-local/CGNAT/ULA/metadata/reserved address, an IPv6
 * address that embeds such an IPv4 address (mapped, compatible, translated,
 * NAT64, 6to4, Teredo, ISATAP), a local-only name, or a single-label name.
 *
 * Comparison is case-insensitive and ignores trailing dots (`LOCALHOST.`).
 * IPv4 in any notation the URL parser accepts (`127.1`, `0x7f000001`) is
 * normalised first. A hostname that cannot be an address or a name the URL
 * parser would produce (`[zz::1]`, `1.2.3.999`) counts as private: the guard
 * fails closed.
 */
export function isPrivateHostname(hostname: string): boolean {
  return privateReason(hostname) !== undefined;
}

/** A refusal verdict. */
function refuse(code: GuardCode, message: string): GuardVerdict {
  return { ok: false, code, message };
}

/** Quote caller input for a message, cut to {@link MAX_QUOTED_LENGTH}. */
function quote(text: string): string {
  return JSON.stringify(text.length > MAX_QUOTED_LENGTH ? `${text.slice(0, MAX_QUOTED_LENGTH)}…` : text);
}

/**
 * Why a hostname is off limits, phrased to follow "<host> is ", or undefined when it is public.
 */
function privateReason(hostname: string): string | undefined {
  const host = hostname.toLowerCase();

  // URL.hostname keeps IPv6 in brackets (WHATWG URL, "host serializer"); accept it bare too.
  // Anything bracketed is judged as IPv6, so "[1.2.3.4]" fails closed instead of passing as a name.
  if (host.includes(':') || host.startsWith('[')) {
    const inner = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
    const groups = parseIPv6(inner);
    return groups === undefined ? 'not a valid IPv6 address' : ipv6Reason(groups);
  }

  // "localhost." and "localhost" are the same DNS name (RFC 1034 §3.1, absolute vs relative).
  const name = host.replace(/\.+$/, '');
  if (name === '') return 'an empty host';

  if (endsInNumber(name)) {
    const address = parseIPv4(name);
    return address === undefined ? 'not a valid IPv4 address' : ipv4Reason(address);
  }

  for (const [suffix, reason] of LOCAL_NAMES) {
    if (name === suffix || name.endsWith(`.${suffix}`)) return reason;
  }
  // After LOCAL_NAMES, so "localhost" keeps its own reason.
  if (!name.includes('.')) return SINGLE_LABEL_REASON;
  return undefined;
}

/**
 * A name with no dot (`metadata`, `instance-data`, `intranet`) is completed by
 * the resolver's DNS search list (RFC 1535; ICANN SSAC SAC064), which on cloud
 * hosts and corporate networks points at internal zones: GCP answers `metadata`
 * through `google.internal`, AWS `instance-data` through `ec2.internal`. With a
 * trailing dot it asks for a TLD apex, which no public TLD may answer with an
 * address (ICANN SSAC SAC053, "dotless domains"), so only local DNS would.
 */
const SINGLE_LABEL_REASON = 'a single-label name, which resolves through local DNS search domains';

/**
 * Names that never reach the public internet, with the reason given in messages.
 * A suffix blocks itself and every name under it.
 */
const LOCAL_NAMES: ReadonlyArray<readonly [suffix: string, reason: string]> = [
  // RFC 6761 §6.3: resolvers answer loopback for localhost and everything under it.
  ['localhost', 'a loopback name (RFC 6761)'],
  // RFC 6762: .local is multicast DNS on the local link.
  ['local', 'a link-local multicast DNS name (RFC 6762)'],
  // ICANN reserved .internal for private use (Board resolution 2024.07.29.06);
  // cloud metadata lives there (metadata.google.internal, *.compute.internal).
  ['internal', 'a private-use name (.internal)'],
  // RFC 8375: home networks.
  ['home.arpa', 'a home network name (RFC 8375)'],
];

/**
 * The WHATWG host parser treats a host as IPv4 when its last label is a number
 * (WHATWG URL, "ends in a number checker"): digits, or 0x followed by hex digits.
 */
function endsInNumber(name: string): boolean {
  const last = name.slice(name.lastIndexOf('.') + 1);
  return /^(?:\d+|0x[0-9a-f]*)$/.test(last);
}

/** Dotted-quad decimal, the form URL.hostname serialises IPv4 to. */
const DOTTED_QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/**
 * IPv4 address as an unsigned 32-bit number, or undefined when not an address.
 *
 * The canonical dotted quad is read directly. Any other notation (`127.1`,
 * `2130706433`, `0177.0.0.1`) is handed to the WHATWG URL parser, which already
 * knows every form, rather than reimplementing it. Only characters that can
 * appear in such notations are passed, so nothing can smuggle in a path or
 * userinfo.
 */
function parseIPv4(name: string): number | undefined {
  let canonical = name;
  if (!DOTTED_QUAD.test(name)) {
    if (!/^[0-9a-fx.]+$/.test(name)) return undefined;
    try {
      canonical = new URL(`http://${name}/`).hostname;
    } catch {
      return undefined;
    }
  }
  const match = DOTTED_QUAD.exec(canonical);
  if (match === null) return undefined;
  let value = 0;
  for (const part of match.slice(1)) {
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

/** Dotted-quad text of an unsigned 32-bit IPv4 address. */
function formatIPv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff].join('.');
}

/** An IPv4 prefix: network address, prefix length, and the reason used in messages. */
type IPv4Range = readonly [network: string, prefixLength: number, reason: string];

/**
 * IPv4 ranges that are not public unicast, from the IANA IPv4 Special-Purpose
 * Address Registry (RFC 6890) plus multicast and reserved space. Earlier
 * entries win, so 255.255.255.255 is named before 240/4.
 */
const IPV4_RANGES: readonly IPv4Range[] = [
  ['0.0.0.0', 8, 'in "this network" 0.0.0.0/8 (RFC 1122), which reaches the local host'],
  ['10.0.0.0', 8, 'a private address (RFC 1918)'],
  // Includes Alibaba Cloud metadata 100.100.100.200.
  ['100.64.0.0', 10, 'a carrier-grade NAT shared address (RFC 6598)'],
  ['127.0.0.0', 8, 'a loopback address'],
  // Includes 169.254.169.254, the AWS/GCP/Azure instance metadata service.
  ['169.254.0.0', 16, 'a link-local address (RFC 3927), home of cloud metadata services'],
  ['172.16.0.0', 12, 'a private address (RFC 1918)'],
  ['192.0.0.0', 24, 'an IETF protocol assignment address (RFC 6890)'],
  ['192.0.2.0', 24, 'a documentation address (RFC 5737)'],
  ['192.168.0.0', 16, 'a private address (RFC 1918)'],
  ['198.18.0.0', 15, 'a benchmarking address (RFC 2544)'],
  ['198.51.100.0', 24, 'a documentation address (RFC 5737)'],
  ['203.0.113.0', 24, 'a documentation address (RFC 5737)'],
  ['224.0.0.0', 4, 'a multicast address (RFC 5771)'],
  ['255.255.255.255', 32, 'the limited broadcast address (RFC 919)'],
  ['240.0.0.0', 4, 'a reserved address (RFC 1112)'],
];

/** {@link IPV4_RANGES} as numbers: network and mask. */
const IPV4_MASKS = IPV4_RANGES.map(([network, prefixLength, reason]) => {
  const mask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
  return { network: parseIPv4(network) ?? 0, mask, reason };
});

/** Why an IPv4 address is off limits, or undefined when it is public. */
function ipv4Reason(address: number): string | undefined {
  for (const { network, mask, reason } of IPV4_MASKS) {
    if (((address & mask) >>> 0) === network) return reason;
  }
  return undefined;
}

/**
 * Parse IPv6 text (no brackets) into 8 16-bit groups, or undefined when it is
 * not an address. Handles `::` compression (RFC 4291 §2.2 form 2) and a trailing
 * dotted IPv4 part (form 3). Zone identifiers are refused, as the WHATWG parser
 * refuses `%`.
 */
function parseIPv6(text: string): number[] | undefined {
  let rest = text;
  const tail: number[] = [];

  const lastColon = rest.lastIndexOf(':');
  const lastPart = rest.slice(lastColon + 1);
  if (lastPart.includes('.')) {
    const match = DOTTED_QUAD.exec(lastPart);
    if (match === null) return undefined;
    const octets = match.slice(1).map(Number);
    if (octets.some((octet) => octet > 255)) return undefined;
    const [a = 0, b = 0, c = 0, d = 0] = octets;
    tail.push((a << 8) | b, (c << 8) | d);
    // Keep the colon so "::1.2.3.4" leaves "::" and "1::1.2.3.4" leaves "1::".
    rest = rest.slice(0, lastColon + 1);
    if (!rest.endsWith('::')) {
      if (rest.length < 2) return undefined;
      rest = rest.slice(0, -1);
    }
  }

  const halves = rest.split('::');
  if (halves.length > 2) return undefined;
  const parseGroups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const groups: number[] = [];
    for (const group of part.split(':')) {
      if (!/^[0-9a-f]{1,4}$/i.test(group)) return undefined;
      groups.push(Number.parseInt(group, 16));
    }
    return groups;
  };

  const head = parseGroups(halves[0] ?? '');
  if (head === undefined) return undefined;

  if (halves.length === 1) {
    const groups = [...head, ...tail];
    return groups.length === 8 ? groups : undefined;
  }

  const after = parseGroups(halves[1] ?? '');
  if (after === undefined) return undefined;
  const known = [...head, ...after, ...tail];
  // "::" stands for at least one zero group (RFC 4291 §2.2; RFC 5952 §4.2.2).
  if (known.length > 7) return undefined;
  return [...head, ...new Array<number>(8 - known.length).fill(0), ...after, ...tail];
}

/**
 * Why an IPv6 address (8 groups) is off limits, or undefined when it is public.
 *
 * Ranges are judged first, then every IPv4 address the address embeds (see
 * {@link embeddedIPv4}): an embedded public IPv4 address clears only that form,
 * so `fd00::200:5efe:8.8.8.8` (ULA) and `2002:808:808::5efe:a00:1` (6to4 of a
 * public address, ISATAP of a private one) are still refused.
 */
function ipv6Reason(groups: readonly number[]): string | undefined {
  const g = (index: number): number => groups[index] ?? 0;
  const zeroUpTo = (end: number): boolean => groups.slice(0, end).every((group) => group === 0);

  if (zeroUpTo(8)) return 'the unspecified address (RFC 4291)';
  if (zeroUpTo(7) && g(7) === 1) return 'a loopback address';
  // 64:ff9b:1::/48, RFC 8215: the local-use NAT64 prefix, never globally routed. Refused whatever it embeds,
  // since how a local translator maps it to IPv4 is a local choice.
  if (g(0) === 0x64 && g(1) === 0xff9b && g(2) === 1) return 'a local-use NAT64 address (RFC 8215)';
  // Includes fd00:ec2::254, the AWS instance metadata service over IPv6.
  if ((g(0) & 0xfe00) === 0xfc00) return 'a unique local address (RFC 4193)';
  if ((g(0) & 0xffc0) === 0xfe80) return 'a link-local address (RFC 4291)';
  if ((g(0) & 0xffc0) === 0xfec0) return 'a site-local address (RFC 3879)';
  if ((g(0) & 0xff00) === 0xff00) return 'a multicast address (RFC 4291)';
  if (g(0) === 0x2001 && g(1) === 0x0db8) return 'a documentation address (RFC 3849)';
  // 100::/64, RFC 6666: discard-only (remote-triggered black hole).
  if (g(0) === 0x0100 && g(1) === 0 && g(2) === 0 && g(3) === 0) return 'a discard-only address (RFC 6666)';

  for (const [form, ipv4] of embeddedIPv4(groups)) {
    const reason = ipv4Reason(ipv4);
    if (reason !== undefined) return `${form} ${formatIPv4(ipv4)}, which is ${reason}`;
  }
  return undefined;
}

/** An IPv4 address carried in an IPv6 address, with the words that name the form in messages ("a 6to4 address of"). */
type EmbeddedIPv4 = readonly [form: string, ipv4: number];

/**
 * Every IPv4 address an IPv6 address carries in a form whose packets end up at
 * that IPv4 address: through the host's own stack (mapped, compatible), a
 * translator (translated, NAT64) or a tunnel (6to4, Teredo, ISATAP). An address
 * can match more than one form; all are returned.
 */
function embeddedIPv4(groups: readonly number[]): EmbeddedIPv4[] {
  const g = (index: number): number => groups[index] ?? 0;
  const zeroUpTo = (end: number): boolean => groups.slice(0, end).every((group) => group === 0);
  // The 32 bits in groups `first` and `first + 1`.
  const ipv4At = (first: number): number => ((g(first) << 16) | g(first + 1)) >>> 0;
  const found: EmbeddedIPv4[] = [];

  // ::ffff:0:0/96, RFC 4291 §2.5.5.2: the socket connects to the embedded IPv4 address.
  if (zeroUpTo(5) && g(5) === 0xffff) found.push(['an IPv4-mapped address of', ipv4At(6)]);
  // ::/96, RFC 4291 §2.5.5.1 (deprecated, still honoured by some stacks).
  if (zeroUpTo(6)) found.push(['an IPv4-compatible address of', ipv4At(6)]);
  // ::ffff:0:0:0/96, RFC 2765 (SIIT; obsoleted by RFC 6145, still recognised): a stateless translator forwards
  // to the IPv4 address.
  if (zeroUpTo(4) && g(4) === 0xffff && g(5) === 0) found.push(['an IPv4-translated address of', ipv4At(6)]);
  // 64:ff9b::/96, RFC 6052 §2.1: a NAT64 gateway forwards to the embedded IPv4 address.
  if (g(0) === 0x64 && g(1) === 0xff9b && groups.slice(2, 6).every((group) => group === 0)) {
    found.push(['a NAT64 address of', ipv4At(6)]);
  }
  // 2002::/16, RFC 3056 §2: 2002:V4ADDR::/48, a 6to4 router tunnels to the IPv4 address in groups 1-2.
  if (g(0) === 0x2002) found.push(['a 6to4 address of', ipv4At(1)]);
  // 2001::/32, RFC 4380 §4: Teredo carries the server's IPv4 address in groups 2-3 and the client's
  // (mapped) IPv4 address, every bit inverted, in groups 6-7; a relay tunnels to the client.
  if (g(0) === 0x2001 && g(1) === 0) {
    found.push(['a Teredo address with server', ipv4At(2)]);
    found.push(['a Teredo address with client', ~ipv4At(6) >>> 0]);
  }
  // Any prefix with interface identifier 0000:5efe or 0200:5efe ("u" bit set), RFC 5214 §6.1: ISATAP
  // tunnels to the IPv4 address in groups 6-7. The same test as Linux's ipv6_addr_is_isatap().
  if ((g(4) === 0 || g(4) === 0x0200) && g(5) === 0x5efe) found.push(['an ISATAP address of', ipv4At(6)]);
  return found;
}

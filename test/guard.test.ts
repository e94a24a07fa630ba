import { describe, it, expect } from 'vitest';
import { checkUrl, isPrivateHostname } from '../src/guard';

const strict = { allowPrivate: false } as const;
const lenient = { allowPrivate: true } as const;

/** The verdict's code, or 'ok': tests branch on codes, never on message text. */
function codeOf(input: string | URL, options: { allowPrivate: boolean; base?: string | URL } = strict): string {
  const verdict = checkUrl(input, options);
  return verdict.ok ? 'ok' : verdict.code;
}

/** The two IPv6 groups that carry a dotted-quad IPv4 address, e.g. '127.0.0.1' -> '7f00:1'; every bit inverted when `invert`. */
function ipv4Groups(dotted: string, invert = false): string {
  const value = dotted.split('.').reduce((total, octet) => total * 256 + Number(octet), 0);
  const bits = invert ? ~value >>> 0 : value;
  return `${(bits >>> 16).toString(16)}:${(bits & 0xffff).toString(16)}`;
}

/** A 6to4 address (RFC 3056 §2): 2002:V4ADDR::/48, here with subnet 0 and interface 1. */
function sixToFour(ipv4: string): string {
  return `2002:${ipv4Groups(ipv4)}::1`;
}

/**
 * A Teredo address (RFC 4380 §4): 2001:0, the server's IPv4 address, flags (cone, 0x8000), the client's
 * port and then its IPv4 address, both with every bit inverted. The port is 40000 (~0x9c40 = 0x63bf).
 */
function teredo(server: string, client: string): string {
  return `2001:0:${ipv4Groups(server)}:8000:${(~40000 & 0xffff).toString(16)}:${ipv4Groups(client, true)}`;
}

/** Microsoft's public Teredo server, the server in RFC 4380-style examples. */
const TEREDO_SERVER = '65.54.227.120';

describe('checkUrl: parsing, scheme and credentials', () => {
  it.each(['not a url', '', '   ', 'http://', 'http://exa mple.com/', '/relative/without/base', 'http://[::1/'])(
    'Should refuse unparseable input %j as invalid_url',
    (input) => {
      expect(codeOf(input)).toBe('invalid_url');
    },
  );

  it.each(['ftp://x/', 'javascript:alert(1)', 'file:///etc/passwd', 'data:text/plain,hi', 'ws://example.com/', 'gopher://example.com/'])(
    'Should refuse the non-http(s) scheme of %j as invalid_url',
    (input) => {
      expect(codeOf(input)).toBe('invalid_url');
    },
  );

  it('Should name the refused scheme in the message', () => {
    const verdict = checkUrl('ftp://x/', strict);
    expect(verdict).toMatchObject({ ok: false, code: 'invalid_url' });
    expect(!verdict.ok && verdict.message).toContain('ftp:');
  });

  it.each(['http://user:pass@example.com/', 'http://user@example.com/', 'http://:secret@example.com/', 'https://a:b@127.0.0.1/'])(
    'Should refuse credentials in %j as invalid_url',
    (input) => {
      expect(codeOf(input)).toBe('invalid_url');
    },
  );

  it('Should not echo the password back in the message', () => {
    const verdict = checkUrl('http://user:hunter2@example.com/', strict);
    expect(verdict.ok).toBe(false);
    expect(!verdict.ok && verdict.message).not.toContain('hunter2');
  });

  it.each(['http://example.com/', 'https://example.com/path?q=1#f', 'HTTP://EXAMPLE.COM', '  https://example.com/  ', '\thttp://example.com/\n'])(
    'Should accept the public http(s) URL %j',
    (input) => {
      expect(codeOf(input)).toBe('ok');
    },
  );

  it('Should return the parsed URL when accepted', () => {
    const verdict = checkUrl('  HTTPS://Example.COM/a b  ', strict);
    expect(verdict.ok && verdict.url.href).toBe('https://example.com/a%20b');
  });

  it('Should accept a URL object and return a copy, so later mutation cannot change what was checked', () => {
    const input = new URL('https://example.com/');
    const verdict = checkUrl(input, strict);
    expect(verdict.ok).toBe(true);
    input.hostname = '127.0.0.1';
    expect(verdict.ok && verdict.url.hostname).toBe('example.com');
    expect(codeOf(input)).toBe('blocked');
  });
});

describe('checkUrl: relative URLs with a base (redirect hops)', () => {
  it('Should resolve a relative Location against the base', () => {
    const verdict = checkUrl('/next?x=1', { allowPrivate: false, base: 'https://example.com/a/b' });
    expect(verdict.ok && verdict.url.href).toBe('https://example.com/next?x=1');
  });

  it('Should accept a URL object as base', () => {
    const verdict = checkUrl('c', { allowPrivate: false, base: new URL('https://example.com/a/b') });
    expect(verdict.ok && verdict.url.href).toBe('https://example.com/a/c');
  });

  it('Should block a protocol-relative redirect to a private host', () => {
    expect(codeOf('//127.0.0.1/admin', { allowPrivate: false, base: 'https://example.com/' })).toBe('blocked');
  });

  it('Should block an absolute redirect to cloud metadata whatever the base', () => {
    expect(codeOf('http://169.254.169.254/latest/meta-data/', { allowPrivate: false, base: 'https://example.com/' })).toBe(
      'blocked',
    );
  });

  it('Should refuse a redirect to another scheme even with a base', () => {
    expect(codeOf('ftp://example.com/file', { allowPrivate: false, base: 'https://example.com/' })).toBe('invalid_url');
  });

  it('Should refuse as invalid_url when the base itself is not a URL', () => {
    expect(codeOf('/next', { allowPrivate: false, base: 'not a url' })).toBe('invalid_url');
  });
});

describe('checkUrl: private addresses', () => {
  it.each(['http://127.0.0.1/', 'http://2130706433/', 'http://0x7f000001/', 'http://0177.0.0.1/', 'http://127.1/', 'http://127.0.0.1./', 'http://127.255.255.254:8080/'])(
    'Should refuse loopback in every IPv4 notation: %s',
    (input) => {
      expect(codeOf(input)).toBe('blocked');
    },
  );

  it.each(['http://[::1]/', 'http://[::ffff:127.0.0.1]/', 'http://[0:0:0:0:0:ffff:7f00:1]/', 'http://[::127.0.0.1]/', 'http://[64:ff9b::7f00:1]/', 'http://[64:ff9b::127.0.0.1]/'])(
    'Should refuse loopback in every IPv6 notation: %s',
    (input) => {
      expect(codeOf(input)).toBe('blocked');
    },
  );

  it.each([
    ['10.1.2.3', 'RFC 1918 10/8'],
    ['172.16.0.1', 'RFC 1918 172.16/12, low end'],
    ['172.31.255.255', 'RFC 1918 172.16/12, high end'],
    ['192.168.1.1', 'RFC 1918 192.168/16'],
    ['169.254.169.254', 'link-local cloud metadata'],
    ['100.64.0.1', 'CGNAT 100.64/10, low end'],
    ['100.127.255.255', 'CGNAT 100.64/10, high end'],
    ['100.100.100.200', 'Alibaba Cloud metadata in CGNAT'],
    ['0.0.0.0', '"this network"'],
    ['192.0.0.1', 'IETF protocol assignments'],
    ['192.0.2.1', 'TEST-NET-1'],
    ['198.18.0.1', 'benchmarking 198.18/15, low end'],
    ['198.19.255.255', 'benchmarking 198.18/15, high end'],
    ['198.51.100.7', 'TEST-NET-2'],
    ['203.0.113.9', 'TEST-NET-3'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast (SSDP)'],
    ['240.0.0.1', 'reserved 240/4'],
    ['255.255.255.255', 'limited broadcast'],
  ])('Should block IPv4 %s (%s)', (host) => {
    expect(codeOf(`http://${host}/`)).toBe('blocked');
  });

  it.each([
    ['[::]', 'unspecified'],
    ['[fc00::1]', 'unique local fc00::/7'],
    ['[fd00:ec2::254]', 'AWS metadata over IPv6'],
    ['[fe80::1]', 'link-local'],
    ['[febf:ffff::1]', 'link-local, high end of fe80::/10'],
    ['[fec0::1]', 'site-local'],
    ['[ff02::1]', 'multicast'],
    ['[2001:db8::1]', 'documentation'],
    ['[100::1]', 'discard-only'],
    ['[::ffff:10.0.0.1]', 'IPv4-mapped private'],
    ['[::ffff:169.254.169.254]', 'IPv4-mapped metadata'],
    ['[64:ff9b::a9fe:a9fe]', 'NAT64 of metadata'],
    ['[64:ff9b:1::1]', 'local-use NAT64'],
  ])('Should block IPv6 %s (%s)', (host) => {
    expect(codeOf(`http://${host}/`)).toBe('blocked');
  });

  it.each(['localhost', 'LOCALHOST.', 'localhost.', 'a.b.localhost', 'metadata.google.internal', 'ip-10-0-0-1.ec2.internal', 'printer.local', 'nas.home.arpa', 'NAS.Home.Arpa.'])(
    'Should block the local-only name %s',
    (host) => {
      expect(codeOf(`http://${host}/`)).toBe('blocked');
    },
  );

  it('Should name the host and the reason in the message', () => {
    const verdict = checkUrl('http://2130706433/', strict);
    expect(verdict).toMatchObject({ ok: false, code: 'blocked' });
    expect(!verdict.ok && verdict.message).toBe('127.0.0.1 is a loopback address');
  });

  it('Should name the embedded IPv4 address in the message for mapped IPv6', () => {
    const verdict = checkUrl('http://[::ffff:127.0.0.1]/', strict);
    expect(!verdict.ok && verdict.message).toContain('127.0.0.1');
  });
});

describe('checkUrl: public addresses', () => {
  it.each([
    'http://93.184.216.34/',
    'http://example.com/',
    'http://[2606:4700::1111]/',
    'http://172.32.0.1/',
    'http://172.15.255.255/',
    'http://100.128.0.1/',
    'http://100.63.255.255/',
    'http://169.255.0.1/',
    'http://198.20.0.1/',
    'http://11.0.0.1/',
    'http://1.1.1.1/',
    'http://223.255.255.255/',
    'http://[::ffff:93.184.216.34]/',
    'http://[64:ff9b::5db8:d822]/',
    'http://[2001:db9::1]/',
    'http://[100:0:0:1::1]/',
    'http://localhost.example.com/',
    'http://notlocalhost.com/',
    'http://internal.example.com/',
    'http://printer.mylocal/',
    'https://local.example/',
  ])('Should allow the public URL %s', (input) => {
    expect(codeOf(input)).toBe('ok');
  });
});

describe('checkUrl: IPv6 forms that embed an IPv4 address', () => {
  it('Should build Teredo test addresses with the client IPv4 address bitwise inverted (127.0.0.1 -> 80ff:fffe)', () => {
    expect(teredo(TEREDO_SERVER, '127.0.0.1')).toBe('2001:0:4136:e378:8000:63bf:80ff:fffe');
  });

  it.each([
    ['[2002:7f00:1::]', '6to4 of loopback 127.0.0.1'],
    [`[${sixToFour('10.0.0.1')}]`, '6to4 of private 10.0.0.1'],
    [`[${sixToFour('169.254.169.254')}]`, '6to4 of cloud metadata'],
    [`[${sixToFour('0.0.0.0')}]`, '6to4 of "this network" 0.0.0.0'],
    ['[2001:0:4136:e378:8000:63bf:80ff:fffe]', 'Teredo, public server, client 127.0.0.1'],
    [`[${teredo(TEREDO_SERVER, '169.254.169.254')}]`, 'Teredo, public server, client cloud metadata'],
    [`[${teredo(TEREDO_SERVER, '192.168.1.1')}]`, 'Teredo, public server, client 192.168.1.1'],
    [`[${teredo('10.0.0.1', '8.8.8.8')}]`, 'Teredo, server 10.0.0.1, public client'],
    [`[${teredo('127.0.0.1', '8.8.8.8')}]`, 'Teredo, server 127.0.0.1, public client'],
    ['[::ffff:0:127.0.0.1]', 'IPv4-translated loopback, dotted'],
    ['[0:0:0:0:ffff:0:a9fe:a9fe]', 'IPv4-translated cloud metadata, hex'],
    ['[::ffff:0:10.0.0.1]', 'IPv4-translated private'],
    ['[64:ff9b:1::]', 'local-use NAT64 64:ff9b:1::/48, low end'],
    ['[64:ff9b:1::8.8.8.8]', 'local-use NAT64, even of a public IPv4 address'],
    ['[64:ff9b:1:ffff:ffff:ffff:ffff:ffff]', 'local-use NAT64, high end'],
    ['[2606:4700::5efe:127.0.0.1]', 'ISATAP 0:5efe of loopback'],
    ['[2606:4700::200:5efe:10.0.0.1]', 'ISATAP 200:5efe of private'],
    ['[2606:4700:1:2:200:5efe:a9fe:a9fe]', 'ISATAP 200:5efe of cloud metadata, hex'],
    ['[2002:808:808::5efe:192.168.0.1]', '6to4 of public 8.8.8.8, but ISATAP of private 192.168.0.1'],
  ])('Should block the IPv6 form %s that embeds a non-public IPv4 address (%s)', (host) => {
    expect(codeOf(`http://${host}/`)).toBe('blocked');
  });

  it.each([
    ['[fd00::200:5efe:8.8.8.8]', 'unique local'],
    ['[fe80::5efe:8.8.8.8]', 'link-local'],
  ])('Should block %s by its %s prefix even though its ISATAP IPv4 address is public', (host) => {
    expect(codeOf(`http://${host}/`)).toBe('blocked');
  });

  it.each([
    ['[2002:0808:0808::1]', '6to4 of 8.8.8.8'],
    [`[${sixToFour('93.184.216.34')}]`, '6to4 of 93.184.216.34'],
    [`[${teredo(TEREDO_SERVER, '8.8.8.8')}]`, 'Teredo, public server and client'],
    ['[::ffff:0:8.8.8.8]', 'IPv4-translated 8.8.8.8'],
    ['[64:ff9b:2::1]', 'just past local-use NAT64 64:ff9b:1::/48'],
    ['[64:ff9b:0:ffff:ffff:ffff:ffff:ffff]', 'just before local-use NAT64 64:ff9b:1::/48'],
    ['[2606:4700::5efe:8.8.8.8]', 'ISATAP 0:5efe of 8.8.8.8'],
    ['[2606:4700::200:5efe:8.8.8.8]', 'ISATAP 200:5efe of 8.8.8.8'],
  ])('Should allow the IPv6 form %s that embeds only public IPv4 addresses (%s)', (host) => {
    expect(codeOf(`http://${host}/`)).toBe('ok');
  });

  it.each([
    ['http://[2002:7f00:1::]/', '[2002:7f00:1::] is a 6to4 address of 127.0.0.1, which is a loopback address'],
    [
      'http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/',
      '[2001:0:4136:e378:8000:63bf:80ff:fffe] is a Teredo address with client 127.0.0.1, which is a loopback address',
    ],
    [
      `http://[${teredo('10.0.0.1', '8.8.8.8')}]/`,
      `[${teredo('10.0.0.1', '8.8.8.8')}] is a Teredo address with server 10.0.0.1, which is a private address (RFC 1918)`,
    ],
    ['http://[::ffff:0:127.0.0.1]/', '[::ffff:0:7f00:1] is an IPv4-translated address of 127.0.0.1, which is a loopback address'],
    [
      'http://[2606:4700::200:5efe:10.0.0.1]/',
      '[2606:4700::200:5efe:a00:1] is an ISATAP address of 10.0.0.1, which is a private address (RFC 1918)',
    ],
    ['http://[64:ff9b:1::8.8.8.8]/', '[64:ff9b:1::808:808] is a local-use NAT64 address (RFC 8215)'],
  ])('Should name the form and the embedded address, on the host as the URL parser serialises it, for %s', (input, message) => {
    const verdict = checkUrl(input, strict);
    expect(verdict).toMatchObject({ ok: false, code: 'blocked' });
    expect(!verdict.ok && verdict.message).toBe(message);
  });
});

describe('checkUrl: single-label names', () => {
  it.each(['metadata', 'instance-data', 'intranet', 'intranet.', 'INTRANET', 'Intranet..', 'mylocal', 'a', 'xn--bcher-kva'])(
    'Should block the single-label name %s',
    (host) => {
      expect(codeOf(`http://${host}/`)).toBe('blocked');
    },
  );

  it('Should give a single-label name the search-domain reason', () => {
    const verdict = checkUrl('http://metadata/computeMetadata/v1/', strict);
    expect(!verdict.ok && verdict.message).toBe('metadata is a single-label name, which resolves through local DNS search domains');
  });

  it('Should keep the loopback-name reason for localhost, though it is also a single label', () => {
    const verdict = checkUrl('http://localhost/', strict);
    expect(!verdict.ok && verdict.message).toBe('localhost is a loopback name (RFC 6761)');
  });

  it.each(['http://134744072/', 'http://0x08080808/', 'http://8.8.8.8./'])(
    'Should judge %s, whose single label is a number, as the public IPv4 address 8.8.8.8',
    (input) => {
      expect(codeOf(input)).toBe('ok');
    },
  );

  it.each(['http://intranet.example.com/', 'http://metadata.example/', 'http://example.com./', 'http://a.b/'])(
    'Should allow the name with at least one dot %s',
    (input) => {
      expect(codeOf(input)).toBe('ok');
    },
  );
});

describe('checkUrl: allowPrivate', () => {
  it.each(['http://127.0.0.1:8787/', 'http://localhost/', 'http://[::1]/', 'http://169.254.169.254/', 'http://metadata.google.internal/'])(
    'Should allow the private URL %s when allowPrivate is true',
    (input) => {
      expect(codeOf(input, lenient)).toBe('ok');
    },
  );

  it.each(['http://metadata/', 'http://instance-data/latest/meta-data/', 'http://intranet/', 'http://intranet./'])(
    'Should allow the single-label URL %s when allowPrivate is true',
    (input) => {
      expect(codeOf(input, lenient)).toBe('ok');
    },
  );

  it.each(['http://[2002:7f00:1::]/', 'http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/', 'http://[::ffff:0:127.0.0.1]/', 'http://[2606:4700::5efe:10.0.0.1]/'])(
    'Should allow the IPv6 form %s that embeds a non-public IPv4 address when allowPrivate is true',
    (input) => {
      expect(codeOf(input, lenient)).toBe('ok');
    },
  );

  it.each(['ftp://127.0.0.1/', 'javascript:alert(1)', 'http://user:pass@127.0.0.1/', 'not a url'])(
    'Should still refuse %j as invalid_url when allowPrivate is true',
    (input) => {
      expect(codeOf(input, lenient)).toBe('invalid_url');
    },
  );
});

describe('isPrivateHostname', () => {
  it.each(['127.0.0.1', '10.0.0.1', '[::1]', '[::ffff:7f00:1]', '[fd00:ec2::254]', 'localhost', 'LocalHost.', 'metadata.google.internal'])(
    'Should report %s as private',
    (hostname) => {
      expect(isPrivateHostname(hostname)).toBe(true);
    },
  );

  it.each(['93.184.216.34', 'example.com', '[2606:4700::1111]', '172.32.0.1', '100.128.0.1'])('Should report %s as public', (hostname) => {
    expect(isPrivateHostname(hostname)).toBe(false);
  });

  it.each(['127.1', '2130706433', '0x7f000001', '0177.0.0.1', '0x7f.1'])(
    'Should normalise the non-canonical IPv4 notation %s before judging it',
    (hostname) => {
      expect(isPrivateHostname(hostname)).toBe(true);
    },
  );

  it.each(['[0:0:0:0:0:ffff:127.0.0.1]', '[::ffff:127.0.0.1]', '[0000:0000:0000:0000:0000:0000:0000:0001]', '[FE80::1]', '::1', '[64:ff9b::127.0.0.1]'])(
    'Should parse the uncompressed, dotted or upper-case IPv6 form %s',
    (hostname) => {
      expect(isPrivateHostname(hostname)).toBe(true);
    },
  );

  it.each([
    '[2002:7f00:1::]',
    '2002:7f00:1::',
    `[${sixToFour('172.16.0.1')}]`,
    `[${teredo(TEREDO_SERVER, '127.0.0.1')}]`,
    `[${teredo('192.168.0.1', '8.8.8.8')}]`,
    '[::ffff:0:7f00:1]',
    '[0:0:0:0:ffff:0:127.0.0.1]',
    '[64:ff9b:1::808:808]',
    '[2606:4700::5efe:a9fe:a9fe]',
    '[2606:4700::200:5efe:10.0.0.1]',
    '[2606:4700::200:5EFE:7F00:1]',
  ])('Should report the IPv6 form %s, which embeds a non-public IPv4 address, as private', (hostname) => {
    expect(isPrivateHostname(hostname)).toBe(true);
  });

  it.each([
    '[2002:808:808::1]',
    sixToFour('1.1.1.1'),
    `[${teredo(TEREDO_SERVER, '8.8.8.8')}]`,
    '[::ffff:0:808:808]',
    '[64:ff9b:2::1]',
    '[2606:4700::5efe:808:808]',
    '[2606:4700::200:5efe:8.8.8.8]',
  ])('Should report the IPv6 form %s, which embeds only public IPv4 addresses, as public', (hostname) => {
    expect(isPrivateHostname(hostname)).toBe(false);
  });

  it.each(['metadata', 'instance-data', 'intranet', 'intranet.', 'Intranet'])('Should report the single-label name %s as private', (hostname) => {
    expect(isPrivateHostname(hostname)).toBe(true);
  });

  it.each(['intranet.example', 'metadata.example.com.'])('Should report the dotted name %s as public', (hostname) => {
    expect(isPrivateHostname(hostname)).toBe(false);
  });

  it.each(['[1::2::3]', '[zz::1]', '[1:2:3:4:5:6:7:8:9]', '[1:2:3:4:5:6:7]', '[::1.2.3.256]', '[fe80::1%eth0]', '[1.2.3.4]', '1.2.3.999', 'example.123', ''])(
    'Should fail closed on %j, which the URL parser would never produce',
    (hostname) => {
      expect(isPrivateHostname(hostname)).toBe(true);
    },
  );
});

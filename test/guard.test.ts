import { describe, it, expect } from 'vitest';
import { checkUrl, isPrivateHostname } from '../src/guard';

const strict = { allowPrivate: false } as const;
const lenient = { allowPrivate: true } as const;

/** The verdict's code, or 'ok': tests branch on codes, never on message text. */
function codeOf(input: string | URL, options: { allowPrivate: boolean; base?: string | URL } = strict): string {
  const verdict = checkUrl(input, options);
  return verdict.ok ? 'ok' : verdict.code;
}

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
    'http://mylocal/',
    'https://local.example/',
  ])('Should allow the public URL %s', (input) => {
    expect(codeOf(input)).toBe('ok');
  });
});

describe('checkUrl: allowPrivate', () => {
  it.each(['http://127.0.0.1:8787/', 'http://localhost/', 'http://[::1]/', 'http://169.254.169.254/', 'http://metadata.google.internal/'])(
    'Should allow the private URL %s when allowPrivate is true',
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

  it.each(['[1::2::3]', '[zz::1]', '[1:2:3:4:5:6:7:8:9]', '[1:2:3:4:5:6:7]', '[::1.2.3.256]', '[fe80::1%eth0]', '[1.2.3.4]', '1.2.3.999', 'example.123', ''])(
    'Should fail closed on %j, which the URL parser would never produce',
    (hostname) => {
      expect(isPrivateHostname(hostname)).toBe(true);
    },
  );
});

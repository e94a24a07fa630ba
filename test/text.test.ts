import { describe, expect, it } from 'vitest';
import { decideHtmlCharset, decideTextCharset, charsetFromMeta } from '../src/extract/charset';
import { bestWindow, collapseWhitespace, cutAtWord, JsonCompactor, queryTerms, TextBuffer } from '../src/extract/text';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('text helpers', () => {
  it('Should collapse every kind of whitespace run, NBSP and ideographic space included', () => {
    expect(collapseWhitespace(' \t a\u00a0\u00a0b \n\r c\u3000d  ')).toBe('a b c d');
  });

  it('Should cut at a word boundary and never exceed the limit', () => {
    const text = 'The quick brown fox jumps over the lazy dog';
    const cut = cutAtWord(text, 20);
    expect(cut).toBe('The quick brown fox');
    expect(cut.length).toBeLessThanOrEqual(20);
    expect(cutAtWord(text, 100)).toBe(text);
    expect(cutAtWord('Supercalifragilistic', 5)).toBe('Super');
  });

  it('Should not split a surrogate pair when cutting', () => {
    const cut = cutAtWord('ab🚀cd', 3);
    expect(cut).toBe('ab');
  });

  it('Should join text pieces with one space at block boundaries and none inside words', () => {
    const buffer = new TextBuffer(100);
    buffer.append('alpha');
    buffer.separate();
    buffer.append('beta');
    buffer.append('gam');
    buffer.append('ma ');
    buffer.append('  delta');
    expect(buffer.text).toBe('alpha betagamma delta');
  });

  it('Should compact JSON outside strings only, even when truncated', () => {
    const json = new JsonCompactor(1000);
    json.push('{\n  "a b": [1, 2],\n  "s": "x  \\" y"');
    expect(json.out).toBe('{"a b":[1,2],"s":"x  \\" y"');
  });

  it('Should find the window that holds the most distinct query words', () => {
    const filler = 'lorem ipsum dolor sit amet '.repeat(40);
    const text = `${filler}zebra here ${filler}zebra crossing at the corner ${filler}`;
    const window = bestWindow(text, queryTerms('Zebra CROSSING'), 60)!;
    expect(window).toContain('zebra crossing');
    expect(window.length).toBeLessThanOrEqual(60);
    expect(bestWindow(text, queryTerms('giraffe'), 60)).toBeNull();
  });

  it('Should match a longer word that starts with a query term of four or more letters', () => {
    expect(bestWindow('many crossings here', queryTerms('crossing'), 50)).toContain('crossings');
  });
});

describe('charset decisions', () => {
  it('Should take the BOM over the header and the meta', () => {
    const body = new Uint8Array([0xff, 0xfe, 0x3c, 0x00]);
    expect(decideHtmlCharset(body, 'text/html; charset=windows-1251')).toMatchObject({ encoding: 'utf-16le', source: 'bom' });
  });

  it('Should take the Content-Type charset over the meta', () => {
    expect(decideHtmlCharset(bytes('<meta charset="shift_jis">'), 'text/html; charset="KOI8-R"')).toMatchObject({
      encoding: 'koi8-r',
      source: 'header',
    });
  });

  it('Should find <meta charset> and http-equiv, but not inside a comment', () => {
    expect(decideHtmlCharset(bytes('<head><meta charset=windows-1251>'), 'text/html').encoding).toBe('windows-1251');
    expect(
      decideHtmlCharset(bytes('<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">'), null).encoding,
    ).toBe('shift_jis');
    expect(charsetFromMeta(bytes('<!-- <meta charset="gbk"> --><meta charset="euc-kr">'))).toBe('euc-kr');
  });

  it('Should read a meta that claims UTF-16 as UTF-8 and an unknown label as the default', () => {
    expect(decideHtmlCharset(bytes('<meta charset="utf-16">'), 'text/html').encoding).toBe('utf-8');
    expect(decideHtmlCharset(bytes('<meta charset="no-such-charset">'), 'text/html; charset=bogus')).toMatchObject({
      encoding: 'utf-8',
      source: 'default',
    });
  });

  it('Should map WHATWG aliases to canonical names (latin1 is windows-1252, gb2312 is gbk)', () => {
    expect(decideHtmlCharset(bytes(''), 'text/html; charset=latin1').encoding).toBe('windows-1252');
    expect(decideHtmlCharset(bytes('<meta charset="GB2312">'), null).encoding).toBe('gbk');
  });

  it('Should ignore <meta> for JSON and text bodies', () => {
    expect(decideTextCharset(bytes('<meta charset="gbk">'), 'text/plain').encoding).toBe('utf-8');
    expect(decideTextCharset(bytes('x'), 'text/plain; charset=iso-8859-2').encoding).toBe('iso-8859-2');
  });
});

import { describe, expect, it } from 'vitest';
import { MAX_WORD_CHARS, escapeControls, redactUrl, redactUrlsIn, sanitizeLine, sanitizeLines, sanitizeNagiosText } from '../../src/output/sanitize.js';
import { HOSTILE_NAMES, rawControls } from '../hostile-text.js';

describe('sanitizeLine: the escape format', () => {
  for (const { what, name, shown } of HOSTILE_NAMES) {
    it(`${what}: ${JSON.stringify(name)} is shown as ${shown}`, () => {
      expect(sanitizeLine(name)).toBe(shown);
    });
  }

  it('every C0 control, DEL and every C1 control becomes \\xHH (\\n \\r \\t named); nothing raw is left', () => {
    const all = Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(i)).join('') + '\x7f' + Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(0x80 + i)).join('');
    const out = sanitizeLine(all);
    expect(rawControls(out)).toEqual([]);
    expect(out.startsWith('\\x00\\x01')).toBe(true);
    expect(out).toContain('\\x08\\t\\n\\x0b\\x0c\\r\\x0e');
    expect(out).toContain('\\x1f\\x7f\\x80');
    expect(out.endsWith('\\x9b\\x9c\\x9d\\x9e\\x9f')).toBe(true);
  });

  it('line/paragraph separators and bidi overrides (Trojan Source) become \\uHHHH', () => {
    expect(sanitizeLine('a\u2028b\u2029c\u202ed\u2066e')).toBe('a\\u2028b\\u2029c\\u202ed\\u2066e');
  });

  it('printable text, non-ASCII letters and emoji are untouched, the same string comes back', () => {
    const text = 'postgres: café → 日本語 🚀 [812] {x} a|b \\x1b';
    expect(sanitizeLine(text)).toBe(text);
  });

  it('is idempotent: escaping twice changes nothing (formatter and command may both apply it)', () => {
    for (const { name } of HOSTILE_NAMES) expect(sanitizeLine(sanitizeLine(name))).toBe(sanitizeLine(name));
    const long = `x ${'\x1b'.repeat(200)} ${'A'.repeat(100_000)}`;
    expect(sanitizeLine(sanitizeLine(long))).toBe(sanitizeLine(long));
  });
});

describe('sanitizeLine: bounded echo', () => {
  it('a word of 100,000 characters is cut to its first 32 and its length', () => {
    const word = `Z${'Q'.repeat(99_999)}`;
    expect(sanitizeLine(`states ${word} shown`)).toBe(`states Z${'Q'.repeat(31)}…[100000 chars] shown`);
    expect(sanitizeLine(`words (${word}, ok) "${word}"`)).toBe(`words (Z${'Q'.repeat(31)}…[100000 chars], ok) "Z${'Q'.repeat(31)}…[100000 chars]"`);
  });

  it('the length counts characters of the original, not UTF-16 units or escapes', () => {
    const word = '😀'.repeat(300);
    expect(sanitizeLine(word)).toBe(`${'😀'.repeat(32)}…[300 chars]`);
    const escapes = '\x1b'.repeat(100); // 100 characters, 400 once escaped
    expect(sanitizeLine(escapes)).toBe(`${'\\x1b'.repeat(32)}…[100 chars]`);
  });

  it(`a word of exactly ${MAX_WORD_CHARS} characters stays whole; one more is cut`, () => {
    expect(sanitizeLine('w'.repeat(MAX_WORD_CHARS))).toBe('w'.repeat(MAX_WORD_CHARS));
    expect(sanitizeLine('w'.repeat(MAX_WORD_CHARS + 1))).toBe(`${'w'.repeat(32)}…[${MAX_WORD_CHARS + 1} chars]`);
  });
});

describe('sanitizeLines and Nagios', () => {
  it("sanitizeLines keeps only the caller's line breaks", () => {
    expect(sanitizeLines(['one a\nb', 'two'])).toBe('one a\\nb\ntwo');
  });

  it('Nagios text shows | as \\x7c (it would start performance data) and is sanitised', () => {
    expect(sanitizeNagiosText('{red-fg}x|y=1 \x1b[2J')).toBe('{red-fg}x\\x7cy=1 \\x1b[2J');
  });

  it('escapeControls touches only controls', () => {
    expect(escapeControls(`${'A'.repeat(1000)}\n`)).toBe(`${'A'.repeat(1000)}\\n`);
  });
});

describe('redactUrl (issue 13, item 9)', () => {
  it('user and password become ***, each query value ***, names kept', () => {
    expect(redactUrl('https://alice:s3cret@hooks.example.com:8443/t/1?token=abc&channel=ops')).toBe('https://***@hooks.example.com:8443/t/1?token=***&channel=***');
  });

  it('a user without a password is redacted too; a bare query token and a fragment are values', () => {
    expect(redactUrl('http://tok3n@example.com/?abcdef#frag')).toBe('http://***@example.com/?***#***');
  });

  it('a URL without secrets is shown as it is', () => {
    expect(redactUrl('https://hooks.example.com/tcpdwell')).toBe('https://hooks.example.com/tcpdwell');
  });

  it('text that does not parse as a URL still loses its userinfo', () => {
    expect(redactUrl('http://user:pw@[bad/x')).toBe('http://***@[bad/x');
  });

  it('redactUrlsIn finds URLs inside a message (fetch quotes the request URL)', () => {
    const message = 'Request cannot be constructed from a URL that includes credentials: https://user:pa55@127.0.0.1:9/x?token=s3cret';
    const out = redactUrlsIn(message);
    expect(out).toBe('Request cannot be constructed from a URL that includes credentials: https://***@127.0.0.1:9/x?token=***');
    expect(out).not.toMatch(/pa55|s3cret/);
  });
});

import { describe, expect, it } from 'vitest';
import { capturedAtFromText, detectInputFormat } from '../../src/sources/captured-table.js';
import { decodeText, parseCodePage } from '../../src/sources/decode-text.js';
import { readFixtureBytes } from '../fixture.js';
import { FIXTURE_STATE_COUNTS } from '../fixture-counts.js';

function formatOfName(name: string): string {
  if (name.startsWith('win-')) return 'windows-netstat';
  if (name.startsWith('linux-netstat')) return 'linux-netstat';
  if (name.startsWith('linux-ss')) return 'ss';
  if (name.startsWith('linux-proc')) return 'procfs';
  if (name.startsWith('linux-nf-conntrack')) return 'conntrack';
  if (name.startsWith('macos')) return 'macos-netstat';
  return 'powershell';
}

describe('detectInputFormat', () => {
  for (const name of Object.keys(FIXTURE_STATE_COUNTS)) {
    it(`${name} is ${formatOfName(name)}`, () => {
      expect(detectInputFormat(decodeText(readFixtureBytes(name)).text)).toBe(formatOfName(name));
    });
  }

  it('prose, and an empty text, are nothing', () => {
    expect(detectInputFormat('Dear support,\nthe server is slow.\n')).toBeUndefined();
    expect(detectInputFormat('')).toBeUndefined();
  });
});

describe('capturedAtFromText', () => {
  it('reads the "# captured at" first line; anything else is no time', () => {
    expect(capturedAtFromText('# captured at 2026-11-21T05:29:18Z — ss -tanoi\nState …')).toBe(Date.parse('2026-11-21T05:29:18Z'));
    expect(capturedAtFromText('\uFEFF# Captured at 2026-11-21T05:29:18+01:00\n')).toBe(Date.parse('2026-11-21T04:29:18Z'));
    expect(capturedAtFromText('State Recv-Q\n# captured at 2026-11-21T05:29:18Z\n')).toBeUndefined();
    expect(capturedAtFromText('# captured at sometime\n')).toEqual({ unreadable: '"# captured at sometime": not an RFC 3339 time such as 2026-11-21T05:30:00Z' });
  });
});

describe('decodeText', () => {
  it('BOMs, BOM-less UTF-16LE, strict UTF-8, a known OEM code page, and Windows-1252 as the last resort', () => {
    expect(decodeText(Buffer.from([0xff, 0xfe, 0x41, 0x00, 0xd6, 0x00]))).toEqual({ text: 'AÖ', encoding: 'utf-16le' });
    expect(decodeText(Buffer.from([0xfe, 0xff, 0x00, 0x41]))).toEqual({ text: 'A', encoding: 'utf-16be' });
    expect(decodeText(Buffer.from('  TCP  x', 'utf16le'))).toEqual({ text: '  TCP  x', encoding: 'utf-16le' });
    expect(decodeText(Buffer.from([0xef, 0xbb, 0xbf, 0xc3, 0x96]))).toEqual({ text: 'Ö', encoding: 'utf-8' });
    expect(decodeText(Buffer.from([0x41, 0x99]), 850)).toEqual({ text: 'AÖ', encoding: 'cp850' });
    expect(decodeText(Buffer.from([0xbb, 0xee]), 936)).toEqual({ text: '活', encoding: 'cp936' });
    expect(decodeText(Buffer.from([0x41, 0x99]))).toEqual({ text: 'A™', encoding: 'windows-1252' });
    expect(decodeText(Buffer.from('HERGESTELLT'), 850).encoding).toBe('utf-8');
  });

  it('chcp in any language', () => {
    expect(parseCodePage('Active code page: 437\r\n')).toBe(437);
    expect(parseCodePage('Aktive Codepage: 850.\r\n')).toBe(850);
    expect(parseCodePage('活动代码页: 936\r\n')).toBe(936);
    expect(parseCodePage('')).toBeUndefined();
  });
});

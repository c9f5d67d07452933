import { createRequire } from 'node:module';
import type iconvLite from 'iconv-lite';

// Bytes → text for captured and Windows command output. Windows tools write in the console's OEM
// code page (850 in de/fr/es, 437 en-US, 866 ru, 932 ja, 936 zh-CN); PowerShell 5.1's `>` writes
// UTF-16LE with a BOM; everything else here is UTF-8.

export interface DecodedText {
  text: string;
  /** What the bytes were read as: utf-8, utf-16le, cp850, windows-1252… */
  encoding: string;
  /**
   * The bytes mix UTF-16 with single-byte text (cmd's `>>` onto a file PowerShell 5.1's `>` wrote,
   * or the other way round): the part in the other encoding reads as CJK-looking or NUL-filled
   * garbage, whose rows no parser would find. Set only then.
   */
  mixedEncoding?: true;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

// Loaded at the first text that is not plain UTF-8 (Windows output, a UTF-16 capture): Linux runs
// never pay for its code-page tables at start-up.
let iconvModule: typeof iconvLite | undefined;
const iconv = {
  decode: (bytes: Buffer, encoding: string) => loadIconv().decode(bytes, encoding),
  encodingExists: (encoding: string) => loadIconv().encodingExists(encoding),
};
function loadIconv(): typeof iconvLite {
  return (iconvModule ??= createRequire(import.meta.url)('iconv-lite') as typeof iconvLite);
}

/**
 * Decodes with a byte-order mark when there is one, then UTF-16 by its zero bytes, then strict UTF-8,
 * then the given code page, and finally Windows-1252 (so `ABH\x99REN` reads `ABH™REN`, a form the
 * state table knows, instead of failing).
 */
export function decodeText(bytes: Uint8Array, codePage?: number): DecodedText {
  const decoded = decodeBytes(bytes, codePage);
  if (decoded.encoding.startsWith('utf-16') ? hasSingleByteLineEnd(bytes) : decoded.text.includes('\u0000')) decoded.mixedEncoding = true;
  return decoded;
}

function decodeBytes(bytes: Uint8Array, codePage: number | undefined): DecodedText {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return { text: iconv.decode(Buffer.from(bytes.subarray(2)), 'utf-16le'), encoding: 'utf-16le' };
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return { text: iconv.decode(Buffer.from(bytes.subarray(2)), 'utf-16be'), encoding: 'utf-16be' };
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
  else if (looksLikeUtf16Le(bytes)) return { text: iconv.decode(Buffer.from(bytes), 'utf-16le'), encoding: 'utf-16le' };
  if (codePage !== undefined && codePage !== 65001 && iconv.encodingExists(`cp${codePage}`)) {
    // A known OEM code page wins over UTF-8 guessing: CP850 'Ö' alone could pass as UTF-8 noise.
    if (!isStrictUtf8(bytes)) return { text: iconv.decode(Buffer.from(bytes), `cp${codePage}`), encoding: `cp${codePage}` };
  }
  if (isStrictUtf8(bytes)) return { text: UTF8.decode(bytes), encoding: 'utf-8' };
  return { text: iconv.decode(Buffer.from(bytes), 'windows-1252'), encoding: 'windows-1252' };
}

function isStrictUtf8(bytes: Uint8Array): boolean {
  try {
    UTF8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * A line end written a byte at a time (CR LF as 0D 0A, or LF followed by a printable byte) in text
 * read as UTF-16, where every line end is 0D 00 0A 00: single-byte lines inside. In UTF-16 the
 * two bytes 0D 0A would be U+0A0D (Gurmukhi) or a U+0Dxx character before a U+xx0A one, neither
 * of which a socket table holds.
 */
function hasSingleByteLineEnd(bytes: Uint8Array): boolean {
  for (let i = 1; i < bytes.length; i++) {
    if (bytes[i] === 0x0a && bytes[i - 1] === 0x0d) return true;
  }
  return false;
}

// ASCII text in UTF-16LE without a BOM: every second byte is zero.
function looksLikeUtf16Le(bytes: Uint8Array): boolean {
  const sample = Math.min(bytes.length, 512) & ~1;
  if (sample < 4) return false;
  let zeroHigh = 0;
  for (let i = 1; i < sample; i += 2) if (bytes[i] === 0 && bytes[i - 1] !== 0) zeroHigh++;
  return zeroHigh >= (sample / 2) * 0.9;
}

/** `chcp` output in any language ("Active code page: 850", "Aktive Codepage: 850.") → 850. */
export function parseCodePage(output: string): number | undefined {
  const numbers = output.match(/\d+/g);
  const last = numbers?.[numbers.length - 1];
  return last === undefined ? undefined : Number(last);
}

import { wellKnownPort } from './services.js';
// Address helpers: every address is normalised once, when a parser makes a row.
// IPv4 dotted; IPv6 RFC 5952 lowercase; IPv4-mapped IPv6 (::ffff:a.b.c.d) shown as a.b.c.d.

export interface Endpoint {
  address: string;
  port: number;
}

export type Protocol = 'tcp' | 'tcp6';

const MAPPED_PREFIX = [0, 0, 0, 0, 0, 0xffff];

/** 16 bytes or 4 bytes to display text. */
export function formatAddressBytes(bytes: readonly number[]): string {
  if (bytes.length === 4) return bytes.join('.');
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  if (MAPPED_PREFIX.every((w, i) => words[i] === w)) return bytes.slice(12).join('.');
  return formatIpv6Words(words);
}

// RFC 5952 §4: lowercase, no leading zeros, the longest run (≥2) of zero words becomes '::'
// (the first such run on a tie).
function formatIpv6Words(words: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLength).join(':');
  return `${head}::${tail}`;
}

/**
 * /proc/net/tcp(6) address: hex digits of 32-bit words, each word in host byte order
 * (docs/tcp-facts.md#procnettcp-and-tcp6). On little-endian hosts the bytes of every word are reversed; the whole
 * 16 bytes are NOT reversed as one block.
 */
export function decodeProcHexAddress(hex: string, littleEndian = true): string | undefined {
  const cache = littleEndian ? littleEndianHex : bigEndianHex;
  let address = cache.get(hex);
  if (address === undefined) {
    address = decodeHexWords(hex, littleEndian) ?? null;
    if (cache.size >= HOST_CACHE_LIMIT) cache.clear();
    cache.set(hex, address);
  }
  return address ?? undefined;
}

// Decoded once per distinct address text, as numericHost does for ss.
const littleEndianHex = new Map<string, string | null>();
const bigEndianHex = new Map<string, string | null>();

function decodeHexWords(hex: string, littleEndian: boolean): string | undefined {
  if (!/^[0-9A-Fa-f]+$/.test(hex) || (hex.length !== 8 && hex.length !== 32)) return undefined;
  const bytes: number[] = [];
  for (let w = 0; w < hex.length; w += 8) {
    const word: number[] = [];
    for (let b = 0; b < 8; b += 2) word.push(parseInt(hex.slice(w + b, w + b + 2), 16));
    if (littleEndian) word.reverse();
    for (const byte of word) bytes.push(byte);
  }
  return formatAddressBytes(bytes);
}

/** Parses IPv4 or IPv6 text (zone index dropped) into bytes; undefined when it is neither. */
export function parseAddressBytes(text: string): number[] | undefined {
  const address = text.replace(/%.*$/, '');
  if (address.includes(':')) return parseIpv6(address);
  return parseIpv4(address);
}

function parseIpv4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : NaN));
  return bytes.every((b) => b >= 0 && b <= 255) ? bytes : undefined;
}

function parseIpv6(text: string): number[] | undefined {
  let body = text;
  let tailBytes: number[] = [];
  const lastColon = body.lastIndexOf(':');
  if (body.slice(lastColon + 1).includes('.')) {
    const v4 = parseIpv4(body.slice(lastColon + 1));
    if (!v4) return undefined;
    tailBytes = v4;
    body = body.slice(0, lastColon + 1) + '0:0';
  }
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const toWords = (s: string): number[] | undefined => {
    if (s === '') return [];
    const words = s.split(':').map((w) => (/^[0-9A-Fa-f]{1,4}$/.test(w) ? parseInt(w, 16) : NaN));
    return words.some(Number.isNaN) ? undefined : words;
  };
  const head = toWords(halves[0] ?? '');
  const tail = halves.length === 2 ? toWords(halves[1] ?? '') : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const words = [...head, ...new Array<number>(Math.max(0, missing)).fill(0), ...tail];
  const bytes = words.flatMap((w) => [w >> 8, w & 0xff]);
  tailBytes.forEach((byte, i) => (bytes[12 + i] = byte));
  return bytes;
}

/**
 * An address read from a captured table (conntrack, Get-NetTCPConnection, systeminformation),
 * normalised; undefined for anything that is not IPv4 or IPv6 text (`300.1.1.1`, `zzz::`, a name).
 */
export function parseAddressText(text: string): string | undefined {
  const bytes = parseAddressBytes(text);
  return bytes ? formatAddressBytes(bytes) : undefined;
}

// A host name as netstat prints it without -n: RFC 1123 labels (letters, digits, '-'; '_' and
// non-ASCII letters appear in the field), possibly cut by the column, so a trailing dot or a
// short last label is allowed.
const HOST_NAME = /^[\p{L}\p{N}_-]+(?:\.[\p{L}\p{N}_-]*)*$/u;

/**
 * Text meant as a numeric address: digits with dots (no host name is dotted and all-numeric,
 * RFC 1123 §2.1), or any colon (IPv6; names have none). A bare number is a name: Windows netstat
 * prints remote names such as `82:http` (win-netstat-o-es-MX-miguehm-redes.txt).
 */
function looksNumeric(text: string): boolean {
  return text.includes(':') || /^\d+(?:\.\d*)+$/.test(text);
}

/**
 * A host as netstat prints it without -n: an address (normalised) or a host name (kept as given).
 * Undefined for text that looks numeric but is no address (`300.1.1.1`, `zzz::`, `1.2.3`) and for
 * anything that is no name. `cut`: the column may have cut the text, so the start of an address
 * (`2001:db8:85a3:0:0:8a2e:3`) is kept as printed.
 */
export function parseHostText(text: string, cut = false): string | undefined {
  const bytes = parseAddressBytes(text);
  if (bytes) return formatAddressBytes(bytes);
  if (cut && isAddressStart(text)) return text;
  if (looksNumeric(text) || !HOST_NAME.test(text)) return undefined;
  return text;
}

/** Could `text` be the first characters of an IPv4 or IPv6 address (what a cutting column leaves)? */
export function isAddressStart(text: string): boolean {
  if (/^[\d.]+$/.test(text)) {
    const parts = text.split('.');
    return parts.length <= 4 && parts.every((p, i) => (p === '' ? i === parts.length - 1 : /^\d{1,3}$/.test(p) && Number(p) <= 255));
  }
  const groups = text.split(':');
  return text.includes(':') && groups.length <= 8 && text.split('::').length <= 2 && groups.every((g) => /^[0-9A-Fa-f]{0,4}$/.test(g));
}

/** Canonical display form of any IPv4/IPv6 text; unknown text (host names) is kept as given. */
export function normalizeAddress(text: string): string {
  const bytes = parseAddressBytes(text);
  return bytes ? formatAddressBytes(bytes) : text;
}

export function formatEndpoint(endpoint: Endpoint): string {
  return endpoint.address.includes(':') ? `[${endpoint.address}]:${endpoint.port}` : `${endpoint.address}:${endpoint.port}`;
}

export interface Cidr {
  bytes: number[];
  prefixLength: number;
}

/** `10.0.0.0/8`, `fd00::/8`, or a bare address (a /32 or /128). */
export function parseCidr(text: string): Cidr | undefined {
  const [address = '', prefix] = text.split('/');
  let bytes = parseAddressBytes(address);
  if (!bytes) return undefined;
  let maxPrefix = bytes.length * 8;
  let prefixLength = prefix === undefined ? maxPrefix : /^\d+$/.test(prefix) ? Number(prefix) : NaN;
  if (!(prefixLength >= 0 && prefixLength <= maxPrefix)) return undefined;
  // ::ffff:a.b.c.d/n is an IPv4 block: rows show mapped addresses as IPv4.
  if (bytes.length === 16 && MAPPED_PREFIX.every((w, i) => (((bytes![2 * i] ?? 0) << 8) | (bytes![2 * i + 1] ?? 0)) === w) && prefixLength >= 96) {
    bytes = bytes.slice(12);
    prefixLength -= 96;
    maxPrefix = 32;
  }
  return { bytes, prefixLength };
}

export function cidrContains(cidr: Cidr, address: string): boolean {
  const bytes = parseAddressBytes(address);
  if (!bytes || bytes.length !== cidr.bytes.length) return false;
  let remaining = cidr.prefixLength;
  for (let i = 0; i < bytes.length && remaining > 0; i++, remaining -= 8) {
    const mask = remaining >= 8 ? 0xff : (0xff << (8 - remaining)) & 0xff;
    if (((bytes[i] ?? 0) & mask) !== ((cidr.bytes[i] ?? 0) & mask)) return false;
  }
  return true;
}

/** A port as tools print it: digits, or `*` (any, shown as 0); undefined when it is neither. */
export function parsePortText(text: string): number | undefined {
  const port = portAt(text, 0);
  return port < 0 ? undefined : port;
}

/** ss / netstat endpoint text: `1.2.3.4:80`, `[::1]:22`, `*:443`, `0.0.0.0:*`, `[fe80::1]%eth0:22`. */
export function parseEndpointText(text: string): (Endpoint & { wildcard: boolean }) | undefined {
  const colon = text.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const port = parsePortText(text.slice(colon + 1));
  if (port === undefined) return undefined;
  const host = numericHost(text.slice(0, colon));
  return host && { address: host.address, port, wildcard: host.wildcard };
}

/**
 * parseEndpointText's answer as a plain Endpoint, the wildcard `*` given as `any`: one object
 * where the general form makes two (a parser of 100,000 rows calls it twice a row).
 */
export function numericEndpoint(text: string, any: string): Endpoint | undefined {
  const colon = text.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const port = portAt(text, colon + 1);
  if (port < 0) return undefined;
  const host = numericHost(text.slice(0, colon));
  return host && { address: host.wildcard ? any : host.address, port };
}

/** parsePortText of text[from…], without cutting it out: -1 when it is no port. */
function portAt(text: string, from: number): number {
  if (from === text.length - 1 && text.charCodeAt(from) === 42 /* * */) return 0;
  if (from >= text.length || text.length - from > 5) return -1;
  let port = 0;
  for (let i = from; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    port = port * 10 + digit;
  }
  return port <= 65535 ? port : -1;
}

interface NumericHost {
  address: string;
  wildcard: boolean;
}

// A table of 100,000 sockets names few distinct hosts: each host text is normalised once, not per
// row. Bounded, so a long run over ever-new peers cannot grow it without limit.
const HOST_CACHE_LIMIT = 4096;
const numericHosts = new Map<string, NumericHost | null>();

/** The host part of numeric endpoint text, normalised; undefined when it is not an address or `*`. */
function numericHost(text: string): NumericHost | undefined {
  let known = numericHosts.get(text);
  if (known === undefined) {
    known = normaliseNumericHost(text) ?? null;
    if (numericHosts.size >= HOST_CACHE_LIMIT) numericHosts.clear();
    numericHosts.set(text, known);
  }
  return known ?? undefined;
}

function normaliseNumericHost(text: string): NumericHost | undefined {
  let host = text.replace(/%[^\]]*$/, ''); // interface suffix after the address: 127.0.0.53%lo
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close < 0) return undefined;
    host = host.slice(1, close).replace(/%.*$/, '');
  }
  if (host === '*') return { address: '*', wildcard: true };
  const bytes = parseAddressBytes(host);
  return bytes && { address: formatAddressBytes(bytes), wildcard: false };
}

/**
 * Endpoint text as netstat prints it without -n: `api:1032`, `host:https`, `[::]:ssh`, besides
 * everything parseEndpointText reads. Host names are kept as given; service names become ports.
 * Numeric-looking text that is no address (`300.1.1.1:80`, `[zzz::]:22`) is refused, unless `cut`
 * (the column may have cut it) and it is the start of an address.
 */
export function parseNamedEndpoint(text: string, cut = false): (Endpoint & { wildcard: boolean }) | undefined {
  const numeric = parseEndpointText(text);
  if (numeric) return numeric;
  const colon = text.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const portText = text.slice(colon + 1);
  const port = parsePortText(portText) ?? wellKnownPort(portText);
  if (port === undefined) return undefined;
  let host = text.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  host = host.replace(/%.*$/, '');
  if (host === '*') return { address: '*', port, wildcard: true };
  const address = parseHostText(host, cut);
  return address === undefined ? undefined : { address, port, wildcard: false };
}

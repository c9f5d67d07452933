import { describe, expect, it } from 'vitest';
import { cidrContains, decodeProcHexAddress, formatEndpoint, normalizeAddress, parseCidr, parseEndpointText } from '../../src/core/address.js';

describe('addresses', () => {
  it('decodes /proc hex per 32-bit word in host order', () => {
    expect(decodeProcHexAddress('0100007F')).toBe('127.0.0.1');
    expect(decodeProcHexAddress('00000000000000000000000001000000')).toBe('::1');
    expect(decodeProcHexAddress('0000000000000000FFFF00000100007F')).toBe('127.0.0.1');
    expect(decodeProcHexAddress('B80D01200000000067452301EFCDAB89')).toBe('2001:db8::123:4567:89ab:cdef');
    expect(decodeProcHexAddress('0100007')).toBeUndefined();
    expect(decodeProcHexAddress('XX00007F')).toBeUndefined();
  });

  it('normalises IPv6 to RFC 5952 and mapped IPv4 to dotted form', () => {
    expect(normalizeAddress('2001:0DB8:0000:0000:0000:0000:0000:0001')).toBe('2001:db8::1');
    expect(normalizeAddress('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1'); // first longest run
    expect(normalizeAddress('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1'); // a single 0 is not shortened
    expect(normalizeAddress('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(normalizeAddress('fe80::1%eth0')).toBe('fe80::1');
    expect(normalizeAddress('db.example')).toBe('db.example');
  });

  it('parses ss endpoint text', () => {
    expect(parseEndpointText('[::ffff:127.0.0.1]:36563')).toEqual({ address: '127.0.0.1', port: 36563, wildcard: false });
    expect(parseEndpointText('127.0.0.53%lo:53')).toEqual({ address: '127.0.0.53', port: 53, wildcard: false });
    expect(parseEndpointText('[fe80::1]%eth0:22')).toEqual({ address: 'fe80::1', port: 22, wildcard: false });
    expect(parseEndpointText('*:*')).toEqual({ address: '*', port: 0, wildcard: true });
    expect(parseEndpointText('1.2.3.4:99999')).toBeUndefined();
    expect(parseEndpointText('1.2.3.4:https')).toBeUndefined();
    expect(formatEndpoint({ address: '::1', port: 22 })).toBe('[::1]:22');
  });

  it('matches CIDR blocks, IPv4 rows against ::ffff: blocks too', () => {
    const ten = parseCidr('10.0.0.0/8')!;
    expect(cidrContains(ten, '10.200.1.1')).toBe(true);
    expect(cidrContains(ten, '11.0.0.1')).toBe(false);
    expect(cidrContains(parseCidr('10.1.2.128/25')!, '10.1.2.127')).toBe(false);
    expect(cidrContains(parseCidr('fd00::/8')!, 'fd12::1')).toBe(true);
    expect(cidrContains(parseCidr('fd00::/8')!, '10.0.0.1')).toBe(false);
    expect(cidrContains(parseCidr('::ffff:10.0.0.0/104')!, '10.9.9.9')).toBe(true);
    expect(cidrContains(parseCidr('192.168.1.5')!, '192.168.1.5')).toBe(true);
    expect(parseCidr('10.0.0.0/33')).toBeUndefined();
    expect(parseCidr('nonsense')).toBeUndefined();
  });
});

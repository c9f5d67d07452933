import { describe, expect, it } from 'vitest';
import { SizeError, parseSize } from '../../src/core/size.js';

describe('sizes (--read-limit)', () => {
  it.each([
    ['262144', 262_144],
    ['512K', 524_288],
    ['512k', 524_288],
    ['256M', 268_435_456],
    ['256MiB', 268_435_456],
    ['256MB', 268_435_456],
    ['1G', 1_073_741_824],
    ['1.5M', 1_572_864],
    ['100b', 100],
    [' 64 K ', 65_536],
  ])('parses %j', (text, bytes) => expect(parseSize(text)).toBe(bytes));

  it.each(['', 'lots', '-1M', '1T', '1MM', 'M', '1e6'])('rejects %j with a message that lists the forms', (text) => {
    expect(() => parseSize(text)).toThrow(SizeError);
    expect(() => parseSize(text)).toThrow(/use bytes \(262144\) or K, M, G/);
  });
});

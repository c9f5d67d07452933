import { describe, expect, it } from 'vitest';
import { FlowSet } from '../../../src/sources/linux/screened-dump.js';
import { AF_INET, AF_INET6 } from '../../../src/sources/linux/parse-sock-diag.js';

// The screened dump's flow set (a flow listed twice makes every row): past its first size it
// grows and rehashes, and still tells every repeat, and only repeats, in both families.

describe('FlowSet', () => {
  for (const [family, stride] of [
    [AF_INET, 3],
    [AF_INET6, 9],
  ] as const) {
    it(`${family === AF_INET ? 'AF_INET' : 'AF_INET6'}: every repeat found, nothing else, across many growths`, () => {
      const set = new FlowSet(stride, 4);
      const sockid = new DataView(new ArrayBuffer(48));
      const write = (n: number) => {
        sockid.setUint16(0, 1024 + (n % 50_000), false);
        sockid.setUint16(2, 80, false);
        sockid.setUint32(4, 0x7f000001, false);
        // Remote addresses differing in their last word only, or (IPv6) in an earlier one.
        sockid.setUint32(20, family === AF_INET ? 0x0a000000 + Math.floor(n / 50_000) : 0x20010db8, false);
        if (family === AF_INET6) sockid.setUint32(32, Math.floor(n / 50_000), false);
      };
      const seen = new Set<number>();
      let repeats = 0;
      let state = 12_345;
      for (let i = 0; i < 30_000; i++) {
        state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
        const n = state % 120_000;
        write(n);
        const found = set.add(sockid, 0, family) >= 0;
        expect(found).toBe(seen.has(n));
        if (found) repeats++;
        seen.add(n);
      }
      expect(repeats).toBeGreaterThan(1000);
    });
  }
});

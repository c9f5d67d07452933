import { describe, expect, it } from 'vitest';
import { iso, UNKNOWN_TIME } from '../../src/output/json.js';

// Defence in depth (break-it W1): a stamp no Date can show must not crash an output with a RangeError.
describe('iso: a stamp that is not a time', () => {
  it('gives "unknown" for non-finite and out-of-range stamps, never a throw', () => {
    for (const ms of [-1e300, 1e300, Infinity, -Infinity, NaN, 8.64e15 + 1]) expect(iso(ms)).toBe(UNKNOWN_TIME);
  });
  it('still gives ISO 8601 UTC for a real stamp (and the edge of the range)', () => {
    expect(iso(Date.UTC(2026, 10, 21, 5, 30))).toBe('2026-11-21T05:30:00.000Z');
    expect(iso(8.64e15)).toBe('+275760-09-13T00:00:00.000Z');
  });
});

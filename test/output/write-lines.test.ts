import { describe, expect, it } from 'vitest';
import { writeLines } from '../../src/output/write-lines.js';

describe('writeLines', () => {
  it('writes the kept items one line each, in slices whose concatenation is the joined text', () => {
    const items = Array.from({ length: 30_000 }, (_, i) => i);
    const writes: string[] = [];
    const count = writeLines(
      { write: (t: string) => writes.push(t) },
      items,
      (i) => `line ${i} ${'x'.repeat(i % 40)}`,
      (i) => i % 3 !== 0,
    );
    const expected = items.filter((i) => i % 3 !== 0).map((i) => `line ${i} ${'x'.repeat(i % 40)}`);
    expect(count).toBe(expected.length);
    expect(writes.join('')).toBe(`${expected.join('\n')}\n`);
    // Slices, not one string: ~700 KB of lines in pieces of about 256 Ki characters, each whole lines.
    expect(writes.length).toBeGreaterThan(1);
    expect(Math.max(...writes.map((w) => w.length))).toBeLessThan((1 << 18) + 100);
    for (const w of writes) expect(w.endsWith('\n')).toBe(true);
  });

  it('writes nothing when no item is kept', () => {
    const writes: string[] = [];
    expect(writeLines({ write: (t: string) => writes.push(t) }, [1, 2], String, () => false)).toBe(0);
    expect(writes).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { processHeapAccess } from '../../src/platform/v8-heap.js';

// The real V8 of the test process: gc() made at run time collects garbage.
describe('processHeapAccess', () => {
  it('gives a gc() that frees garbage (made at run time unless the process has one already)', () => {
    const heap = processHeapAccess();
    expect(heap).toBeDefined();
    heap!.collect();
    const before = heap!.usedBytes();
    let garbage: unknown[] | undefined = Array.from({ length: 200_000 }, (_, i) => ({ i, text: `row ${i}` }));
    expect(heap!.usedBytes()).toBeGreaterThan(before + 8 * 1024 * 1024);
    garbage = undefined;
    heap!.collect();
    expect(garbage).toBeUndefined();
    expect(heap!.usedBytes()).toBeLessThan(before + 4 * 1024 * 1024);
  });
});

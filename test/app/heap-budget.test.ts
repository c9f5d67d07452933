import { describe, expect, it } from 'vitest';
import { HeapBudget, lazyHeapBudget, type HeapAccess } from '../../src/app/heap-budget.js';

const MiB = 1024 * 1024;

/**
 * A heap the test drives: `live` bytes survive a collection, `garbage` bytes do not; `usedBytes`
 * is their sum, as V8's used_heap_size between collections.
 */
function fakeHeap(live = 0, garbage = 0) {
  const heap = {
    live,
    garbage,
    collections: 0,
    youngLimited: 0,
    usedBytes: () => heap.live + heap.garbage,
    collect() {
      heap.collections++;
      heap.garbage = 0;
    },
    limitYoungGeneration() {
      heap.youngLimited++;
    },
  };
  return heap;
}

const options = { liveFraction: 0.5, minBytes: 16 * MiB };

describe('HeapBudget', () => {
  it('before any collection nothing is known live: the first poll leaving more than minBytes in use collects, and measures the live heap', () => {
    const heap = fakeHeap(10 * MiB, 5 * MiB);
    const budget = new HeapBudget(heap, options);
    expect(budget.afterPoll()).toBe(false); // 15 MiB in use: within the 16 MiB floor
    heap.live = 66 * MiB;
    heap.garbage = 84 * MiB; // a first poll of 100,000 rows: the table read and the records made
    expect(budget.afterPoll()).toBe(true);
    expect(heap.collections).toBe(1);
    expect(budget.liveBytes).toBe(66 * MiB);
    expect(budget.budgetBytes()).toBe(33 * MiB);
  });

  it('collects only when the heap has grown by more than half the live heap since the last collection', () => {
    const heap = fakeHeap(66 * MiB, 50 * MiB);
    const budget = new HeapBudget(heap, options);
    budget.afterPoll(); // measures 66 MiB live
    const collectedAt: number[] = [];
    // Fast polls leave ~5 MiB of promoted garbage each: 33 MiB allowed, so the 7th collects.
    for (let poll = 1; poll <= 14; poll++) {
      heap.garbage += 5 * MiB;
      if (budget.afterPoll()) collectedAt.push(poll);
    }
    expect(collectedAt).toEqual([7, 14]);
    expect(heap.usedBytes()).toBe(66 * MiB);
  });

  it('exactly the budget is not past it; one byte more is', () => {
    const heap = fakeHeap(40 * MiB, 1);
    const budget = new HeapBudget(heap, options);
    budget.afterPoll();
    heap.garbage = 20 * MiB;
    expect(budget.afterPoll()).toBe(false);
    heap.garbage = 20 * MiB + 1;
    expect(budget.afterPoll()).toBe(true);
  });

  it('the budget follows the live heap up (the tracker filling) and down (connections closed), never under minBytes', () => {
    const heap = fakeHeap(100 * MiB, 17 * MiB);
    const budget = new HeapBudget(heap, options);
    budget.afterPoll();
    expect(budget.budgetBytes()).toBe(50 * MiB);
    // Live growth counts as growth: it is collected once, then the larger live heap is the base.
    heap.live = 160 * MiB;
    expect(budget.afterPoll()).toBe(true);
    expect(budget.liveBytes).toBe(160 * MiB);
    expect(budget.budgetBytes()).toBe(80 * MiB);
    heap.live = 10 * MiB;
    heap.garbage = 150 * MiB; // most connections closed: their records are garbage now
    expect(budget.afterPoll()).toBe(false); // 160 MiB in use, not past 160 + 80
    heap.garbage = 231 * MiB;
    expect(budget.afterPoll()).toBe(true);
    expect(budget.liveBytes).toBe(10 * MiB);
    expect(budget.budgetBytes()).toBe(16 * MiB);
    expect(budget.collections).toBe(3);
  });

  it('start limits the young generation once, however many loops start', () => {
    const heap = fakeHeap();
    const budget = new HeapBudget(heap, options);
    budget.start();
    budget.start();
    expect(heap.youngLimited).toBe(1);
  });
});

describe('lazyHeapBudget', () => {
  it('opens the heap only when a long-running loop first calls it (a one-shot never reaches V8), then keeps one budget', () => {
    const heap = fakeHeap(66 * MiB, 60 * MiB);
    let opened = 0;
    const budget = lazyHeapBudget(() => {
      opened++;
      return heap;
    }, options);
    expect(opened).toBe(0);
    budget.start?.();
    expect(heap.youngLimited).toBe(1);
    expect(budget.afterPoll()).toBe(true);
    heap.garbage = 10 * MiB;
    expect(budget.afterPoll()).toBe(false); // the same budget: it knows 66 MiB is live
    expect(opened).toBe(1);
  });

  it("collectNow collects whatever the budget says, and the live heap it measures is the next budget's base", () => {
    const heap = fakeHeap(60 * MiB, 40 * MiB);
    const budget = lazyHeapBudget(() => heap, options);
    expect(budget.afterPoll()).toBe(true); // the first: live 60 MiB
    heap.garbage = 5 * MiB; // far under the budget (30 MiB)
    expect(budget.afterPoll()).toBe(false);
    budget.collectNow?.();
    expect(heap.collections).toBe(2);
    expect(heap.garbage).toBe(0);
    heap.live = 40 * MiB; // connections closed: the base follows down (budget 20 MiB)
    budget.collectNow?.();
    heap.garbage = 21 * MiB;
    expect(budget.afterPoll()).toBe(true);
  });

  it('does nothing when V8 gives no gc (the heap could not be opened), and does not ask again', () => {
    let opened = 0;
    const budget = lazyHeapBudget((): HeapAccess | undefined => {
      opened++;
      return undefined;
    }, options);
    budget.start?.();
    expect(budget.afterPoll()).toBe(false);
    expect(budget.afterPoll()).toBe(false);
    expect(opened).toBe(1);
  });
});

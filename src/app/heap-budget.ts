// A heap budget for the long-running modes (serve, watch, check --window, the dashboard, list --watch):
// after each poll, a full garbage collection when the V8 heap in use has grown by more than a budget
// since the last one. Why: on a host with much memory V8 lets its old generation grow to ~4x the
// live heap before it collects (its heap growing factor; measured: one mark-compact in 75 s of
// serve at 100,000 sockets, RSS 188 MB after 4 polls and 376 MB after 40), and each poll promotes
// garbage (rows of the previous table, a census's 100,000 rows). The poll loop is the one place that
// knows when a poll's garbage has just become garbage and the process is about to sleep, so the
// collection costs no poll latency.
//
// The policy is pure (HeapBudget, on an injected HeapAccess); `processHeapAccess` is the edge that
// reaches V8.

/** What the budget needs of the heap: bytes in use now, and a full (mark-compact) collection. */
export interface HeapAccess {
  /** Bytes of the JS heap in use (V8's used_heap_size: live objects plus garbage not yet collected). */
  usedBytes(): number;
  /** A full garbage collection, synchronous (V8's `gc()`). */
  collect(): void;
  /**
   * Keeps V8's young generation at its start-up size from now on (when the heap can: absent, nothing
   * is done). Called once, before the first poll.
   */
  limitYoungGeneration?(): void;
}

export interface HeapBudgetOptions {
  /**
   * Growth allowed, as a fraction of the heap in use just after the last full collection (the live
   * heap). 0.25: the heap peaks near 1.25x live plus one poll's transient, against V8's 4x on a
   * large host. A collection of the live heap costs about one poll's CPU; a fast poll promotes
   * ~1 MB at 100,000 sockets (measured 2026-12-02: watch, 30 polls), so 0.25 (~15 MB) still lets
   * a dozen polls' garbage pile up before paying for one. 0.5 until 2026-12-02: its slack (~30 MB)
   * was most of what kept serve, watch and check --window over 150 MB (docs/performance-history.md#session-12-memory-of-the-long-running-modes-helper-memory).
   */
  liveFraction: number;
  /** The least growth allowed, in bytes: a small heap is not collected after every poll. */
  minBytes: number;
}

/** 0.25 of the live heap, at least 16 MiB (measured at 100,000 sockets: docs/performance-history.md#session-12-memory-of-the-long-running-modes-helper-memory). */
export const DEFAULT_HEAP_BUDGET: HeapBudgetOptions = { liveFraction: 0.25, minBytes: 16 * 1024 * 1024 };

/**
 * The policy. `afterPoll` collects when `usedBytes() - liveBytes > budgetBytes()`, then takes the heap
 * in use after the collection as the new live heap, so the budget follows the live heap up (the
 * tracker filling) and down (connections closing). Before the first collection nothing is known to
 * be live (0): the first poll that leaves more than `minBytes` in use is followed by a collection,
 * which measures the live heap (the heap in use then holds the first poll's garbage too, so taking
 * it as the baseline would let the heap grow half as much again on top of that garbage).
 */
export class HeapBudget {
  private live = 0;
  private collected = 0;
  private started = false;

  constructor(
    private readonly heap: HeapAccess,
    private readonly options: HeapBudgetOptions = DEFAULT_HEAP_BUDGET,
  ) {}

  /** Bytes in use after the last full collection made here (0 before the first). */
  get liveBytes(): number {
    return this.live;
  }

  /** Full collections made so far. */
  get collections(): number {
    return this.collected;
  }

  /**
   * Before the first poll of a long-running mode: the young generation kept small. Why: V8 grows
   * it to 16 MiB a semi-space (32 MiB, all resident) under a poll's allocation, and it never
   * shrinks back while polls keep allocating; what a poll allocates and keeps (the table being
   * built) is promoted to the old generation, which the budget bounds, either way.
   */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.heap.limitYoungGeneration?.();
  }

  /** Growth in bytes allowed above the live heap before the next collection. */
  budgetBytes(): number {
    return Math.max(this.options.minBytes, this.live * this.options.liveFraction);
  }

  /** After a poll (its garbage dropped, the loop about to wait): collects if the heap grew past the budget; says whether it did. */
  afterPoll(): boolean {
    if (this.heap.usedBytes() - this.live <= this.budgetBytes()) return false;
    this.collectNow();
    return true;
  }

  /** A full collection whatever the budget says (the live heap measured anew). */
  collectNow(): void {
    this.heap.collect();
    this.collected++;
    this.live = this.heap.usedBytes();
  }
}

/** What a poll loop of a long-running mode calls: `start` before its first poll, `afterPoll` after each poll another follows. */
export interface AfterPoll {
  start?(): void;
  afterPoll(): unknown;
  /** A full collection now, whatever the budget says (heapCollectBeforeLastBurst). */
  collectNow?(): void;
}

// One heap per process, so one budget per process, shared by every poll loop in it (set by the
// CLI's entry point; none in tests and library use unless they set one).
let processBudget: AfterPoll | undefined;

/** Sets (or with undefined, clears) the budget of every poll loop in this process. */
export function setProcessHeapBudget(budget: AfterPoll | undefined): void {
  processBudget = budget;
}

/**
 * A budget made at its first `start` or `afterPoll` from `openHeap()` (so a one-shot command, which
 * calls neither, never reaches into V8), and off (nothing done) when `openHeap` gives no heap.
 */
export function lazyHeapBudget(openHeap: () => HeapAccess | undefined, options: HeapBudgetOptions = DEFAULT_HEAP_BUDGET): AfterPoll {
  let budget: HeapBudget | null | undefined;
  const opened = () => {
    if (budget === undefined) {
      const heap = openHeap();
      budget = heap ? new HeapBudget(heap, options) : null;
    }
    return budget;
  };
  return {
    start: () => opened()?.start(),
    afterPoll: () => opened()?.afterPoll() ?? false,
    collectNow: () => opened()?.collectNow(),
  };
}

/**
 * The process budget's afterPoll within a poll, between two bursts of allocation: the first's
 * garbage is collected (when past the budget) before the second is made on top of it. For the
 * polls of a long-running mode only (a one-shot command never reaches V8).
 */
export function heapBudgetBetweenBursts(): void {
  processBudget?.afterPoll();
}

/**
 * A full collection before the last burst of a long-running mode's run, whatever the budget says:
 * `check --window` ends with an evaluation that makes a view per connection, an owner lookup and
 * its report, the run's peak, made on top of whatever garbage its polls left under the budget (up
 * to a quarter of the live heap). One collection a run (~50 ms at 100,000 sockets). Nothing without a
 * process budget (a one-shot command never reaches V8).
 */
export function heapCollectBeforeLastBurst(): void {
  processBudget?.collectNow?.();
}

/** The budget set by `setProcessHeapBudget`, if any. */
export function processHeapBudget(): AfterPoll | undefined {
  return processBudget;
}

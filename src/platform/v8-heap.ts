// node:v8 and node:vm are loaded when the budget first asks (a long-running mode's first poll), not
// at import: cli/main.ts imports this file for every command, and node:v8 brings perf_hooks and ~16
// internal modules with it (2-8 ms measured alone on Node 20.20; within the noise of a whole
// one-shot command, and no RSS difference).
const v8 = () => process.getBuiltinModule('node:v8');

/**
 * This process's V8 heap as the heap budget (app/heap-budget.ts) sees it: bytes in use
 * (used_heap_size) and a full collection; or undefined when V8 gives no `gc()` (then the
 * budget is off and V8 collects on its own schedule: memory only, nothing read is lost).
 *
 * `gc` is made at run time: `--expose-gc` set by `setFlagsFromString` applies to contexts made after
 * it, so a new vm context has `gc` (Node 20; a process started with `--expose-gc` has it already).
 */
export function processHeapAccess(): { usedBytes(): number; collect(): void; limitYoungGeneration(): void } | undefined {
  const collect = exposedGc();
  if (!collect) return undefined;
  return { usedBytes: () => v8().getHeapStatistics().used_heap_size, collect: () => collect(), limitYoungGeneration };
}

/**
 * V8 grows the young generation by `--semi-space-growth-factor` (2) times at each growth, reading the
 * flag then, so 1 keeps it at its start-up size (1 MiB a semi-space here); `--max-semi-space-size`
 * is read only when the heap is made, so it does nothing at run time (measured on Node 20.20).
 * Starting a Worker sets V8's flags back to the command line's (the netlink dump and fd walks run
 * on workers), so the flag is set again each time one starts (process 'worker' event, which comes
 * after that reset: measured).
 */
function limitYoungGeneration(): void {
  if (youngGenerationLimited) return;
  youngGenerationLimited = true;
  const set = () => v8().setFlagsFromString('--semi-space-growth-factor=1');
  set();
  process.on('worker', set);
}
let youngGenerationLimited = false;

function exposedGc(): (() => void) | undefined {
  const global = (globalThis as { gc?: unknown }).gc;
  if (typeof global === 'function') return global as () => void;
  try {
    v8().setFlagsFromString('--expose-gc');
    const made: unknown = process.getBuiltinModule('node:vm').runInNewContext('gc');
    return typeof made === 'function' ? (made as () => void) : undefined;
  } catch {
    return undefined;
  }
}

// Whole tables never go into an argument list: `Math.max(...rows)` and `push(...rows)` put every
// element on the stack, and V8 overflows it ("Maximum call stack size exceeded") from about
// 125,000 elements — a busy host's socket table. These helpers take the list itself.

/** The largest of `values`, or `floor` when there are none (or all are below it). */
export function maxOf(values: Iterable<number>, floor = -Infinity): number {
  let max = floor;
  for (const value of values) if (value > max) max = value;
  return max;
}

/** Appends every item of `items` to `target`, in order, and returns `target`. */
export function appendAll<T>(target: T[], items: Iterable<T>): T[] {
  for (const item of items) target.push(item);
  return target;
}

// Many lines written in slices, not as one string: `watch`'s first poll prints a line for each of
// up to ~86,000 flagged sessions (issue 15); joined, they were one string of ~20 MB beside an
// array of every line, both alive until the write. A slice's lines die once it is written.

/**
 * About this many characters a write: a slice's text is one string, and one past ~128 KB is made
 * in V8's large-object space, garbage there until a full collection (check's ~86,000 lines at
 * 100,000 sockets were ~60 such strings at 256 Ki characters a slice); 64 Ki is made young and dies so.
 */
const SLICE_CHARS = 1 << 16;

/**
 * Writes `line(item)` and a newline for each item `keep` accepts (all when absent), in order, a
 * slice of about 64 Ki characters at a time. Returns how many lines were written.
 */
export function writeLines<T>(out: { write(text: string): unknown }, items: Iterable<T>, line: (item: T) => string, keep?: (item: T) => boolean): number {
  let slice: string[] = [];
  let chars = 0;
  let written = 0;
  for (const item of items) {
    if (keep && !keep(item)) continue;
    const text = line(item);
    slice.push(text);
    chars += text.length + 1;
    written++;
    if (chars >= SLICE_CHARS) {
      out.write(`${slice.join('\n')}\n`);
      slice = [];
      chars = 0;
    }
  }
  if (slice.length > 0) out.write(`${slice.join('\n')}\n`);
  return written;
}

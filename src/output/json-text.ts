// JSON text written in pieces. V8 caps a string at ~2^29 characters, and check's report of
// 300,000 flagged sessions, indented, is longer: JSON.stringify threw RangeError "Invalid string
// length" (exit 70). The text is the same as JSON.stringify(value, null, indent) gives.

const BATCH_CHARS = 1 << 20;
/**
 * Containers this deep or deeper are stringified whole: one piece per row, not per field. An
 * array's elements (a list's rows) are whole at any depth: a piece per field of 40,000 rows was a
 * third of `list --json`'s time.
 */
const SPLIT_DEPTH = 2;
/**
 * An array's elements are stringified as slices of the array, each about this long: one
 * JSON.stringify per row and the re-indenting of its text cost twice as much as one per slice
 * (measured at 40,000 `list --json` rows: 320 ms against 180).
 */
const SLICE_CHARS = 1 << 18;

/**
 * An array whose elements are made from `items` as the JSON is written, a slice at a time: the
 * 40,000 row objects of `list --json` then die young, slice by slice, instead of all living until
 * the last row is written (half of that command's garbage-collection time). Anywhere else it is
 * the array `items.map(toJson)` (JSON.stringify calls toJSON).
 */
export class JsonArrayOf<T> {
  constructor(
    readonly items: readonly T[],
    readonly toJson: (item: T) => unknown,
  ) {}

  toJSON(): unknown[] {
    return this.items.map((item) => this.toJson(item));
  }
}

/** Writes `JSON.stringify(value, null, indent)` and a newline to `out`, in pieces of about 1 MiB. */
export function writeJson(out: { write(text: string): unknown }, value: unknown, indent?: number): void {
  let batch = '';
  for (const piece of jsonPieces(value, indent ? ' '.repeat(indent) : '', '', 0)) {
    if (batch.length > 0 && batch.length + piece.length > BATCH_CHARS) {
      out.write(batch);
      batch = '';
    }
    batch += piece;
  }
  out.write(`${batch}\n`);
}

/** The pieces of JSON.stringify(value, null, gap) for a value nested at indentation `pad`. */
export function* jsonPieces(value: unknown, gap: string, pad: string, depth: number): Generator<string> {
  const lazy = value instanceof JsonArrayOf ? (value as JsonArrayOf<unknown>) : undefined;
  const v = lazy ? lazy.items : typeof (value as { toJSON?: unknown } | null)?.toJSON === 'function' ? (value as { toJSON: () => unknown }).toJSON() : value;
  if (typeof v !== 'object' || v === null || (depth >= SPLIT_DEPTH && !lazy)) {
    const text = JSON.stringify(v, null, gap);
    yield gap && text ? text.replaceAll('\n', `\n${pad}`) : (text ?? 'null');
    return;
  }
  const inner = pad + gap;
  const lead = gap ? `\n${inner}` : '';
  if (Array.isArray(v)) {
    if (v.length === 0) return yield '[]';
    yield '[';
    // Slices of the array stringified whole give the elements' text as the whole array's would
    // (an element without a JSON form, undefined or a function, is null there too): between its
    // brackets, "\n" + gap before each element at the top level, re-indented by `pad` below it.
    let chars = 0;
    for (let i = 0, count = 1; i < v.length; i += count) {
      // About SLICE_CHARS a slice, from the elements' length so far: the first alone, and each
      // slice at most 8 times the one before (a short first element says little of the rest).
      count = i === 0 ? 1 : Math.max(1, Math.min(count * 8, Math.floor((SLICE_CHARS * i) / Math.max(chars, 1))));
      const slice: unknown[] = v.slice(i, i + count);
      const text = JSON.stringify(lazy ? slice.map((item) => lazy.toJson(item)) : slice, null, gap);
      chars += text.length;
      const elements = text.slice(1, gap ? -2 : -1);
      yield `${i === 0 ? '' : ','}${pad && gap ? elements.replaceAll('\n', `\n${pad}`) : elements}`;
    }
    return yield `${gap ? `\n${pad}` : ''}]`;
  }
  // As JSON.stringify: fields without a JSON form are left out.
  const entries = Object.entries(v).filter(([, field]) => field !== undefined && typeof field !== 'function' && typeof field !== 'symbol');
  if (entries.length === 0) return yield '{}';
  yield '{';
  for (const [i, [key, field]] of entries.entries()) {
    yield `${i === 0 ? lead : `,${lead}`}${JSON.stringify(key)}:${gap ? ' ' : ''}`;
    yield* jsonPieces(field, gap, inner, depth + 1);
  }
  yield `${gap ? `\n${pad}` : ''}}`;
}

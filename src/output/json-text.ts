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

/** Writes `JSON.stringify(value, null, indent)` and a newline to `out`, in pieces of about 1 MiB. */
export function writeJson(out: { write(text: string): unknown }, value: unknown, indent?: number): void {
  let batch = '';
  for (const piece of jsonPieces(value, indent ? ' '.repeat(indent) : '', '', 0)) {
    batch += piece;
    if (batch.length >= BATCH_CHARS) {
      out.write(batch);
      batch = '';
    }
  }
  out.write(`${batch}\n`);
}

/** The pieces of JSON.stringify(value, null, gap) for a value nested at indentation `pad`. */
export function* jsonPieces(value: unknown, gap: string, pad: string, depth: number, whole = false): Generator<string> {
  const v = typeof (value as { toJSON?: unknown } | null)?.toJSON === 'function' ? (value as { toJSON: () => unknown }).toJSON() : value;
  if (typeof v !== 'object' || v === null || whole || depth >= SPLIT_DEPTH) {
    const text = JSON.stringify(v, null, gap);
    yield gap && text ? text.replaceAll('\n', `\n${pad}`) : (text ?? 'null');
    return;
  }
  const inner = pad + gap;
  const lead = gap ? `\n${inner}` : '';
  if (Array.isArray(v)) {
    if (v.length === 0) return yield '[]';
    yield '[';
    for (let i = 0; i < v.length; i++) {
      yield i === 0 ? lead : `,${lead}`;
      // As JSON.stringify: an element that has no JSON form (undefined, a function) is null.
      const element: unknown = v[i];
      yield* jsonPieces(element === undefined || typeof element === 'function' || typeof element === 'symbol' ? null : element, gap, inner, depth + 1, true);
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

import { describe, expect, it } from 'vitest';
import { JsonArrayOf, jsonPieces, writeJson } from '../../src/output/json-text.js';

function written(value: unknown, indent?: number): { text: string; writes: number } {
  let text = '';
  let writes = 0;
  writeJson({ write: (piece: string) => ((text += piece), writes++) }, value, indent);
  return { text, writes };
}

describe('writeJson', () => {
  // Values written for the test: every shape JSON.stringify treats specially.
  const values: unknown[] = [
    { status: 'warning', flagged: [{ a: 1, b: [1, 2, { c: null }], d: undefined, e: {} }, { f: [] }], empty: [], nested: { deep: { deeper: [1] } } },
    [1, 'two', null, undefined, () => 3, { x: undefined }, [[]], new Date(0)],
    [],
    {},
    'text with "quotes" and \n newline',
    42,
    null,
  ];
  it.each(values.flatMap((v) => [[v, 2] as const, [v, undefined] as const]))('writes the same text as JSON.stringify: %j (indent %s)', (value, indent) => {
    expect(written(value, indent).text).toBe(`${JSON.stringify(value, null, indent)}\n`);
  });

  it("a list's rows are stringified in slices of the array, not a piece per row or per field (a top-level object's fields are split)", () => {
    // Rows written for the test, in list --json's shape (an array of flat objects with one nested).
    const rows = [
      { a: 1, b: { c: [2] } },
      { d: 'x', e: null },
      { f: undefined, g: [] },
    ];
    // The first row alone (its length sizes the next slice), then the other two in one slice.
    expect([...jsonPieces(rows, '  ', '', 0)]).toEqual([
      '[',
      '\n  {\n    "a": 1,\n    "b": {\n      "c": [\n        2\n      ]\n    }\n  }',
      ',\n  {\n    "d": "x",\n    "e": null\n  },\n  {\n    "g": []\n  }',
      '\n]',
    ]);
    // check's report: its flagged array is split into slices of rows, re-indented below the report.
    const report = { status: 'warning', flagged: rows };
    const pieces = [...jsonPieces(report, '', '', 0)];
    expect(pieces).toContain('{"a":1,"b":{"c":[2]}}');
    expect(pieces.join('')).toBe(JSON.stringify(report));
    expect([...jsonPieces(report, '  ', '', 0)].join('')).toBe(JSON.stringify(report, null, 2));
  });

  it('slices a long array by the length of its elements so far: many rows a slice, each slice far under the string limit', () => {
    // Rows written for the test, about 250 characters each once indented.
    const rows = Array.from({ length: 20_000 }, (_, i) => ({ state: 'ESTABLISHED', port: i, note: 'y'.repeat(150) }));
    const pieces = [...jsonPieces(rows, '  ', '', 0)];
    expect(pieces.length).toBeGreaterThan(10); // 5 MB of text in slices of ~256 KiB
    expect(pieces.length).toBeLessThan(100); // not one piece a row
    expect(Math.max(...pieces.map((p) => p.length))).toBeLessThan(2 * (1 << 18));
    expect(pieces.join('')).toBe(JSON.stringify(rows, null, 2));
  });

  it('JsonArrayOf: its elements are made slice by slice as the text is taken, and the text is that of the mapped array', () => {
    // Items written for the test; toJson makes a row object from each, as list --json does from a view.
    const items = Array.from({ length: 5000 }, (_, i) => i);
    let made = 0;
    const toJson = (i: number) => (made++, i % 7 === 3 ? undefined : { port: i, state: i % 2 ? 'ESTABLISHED' : 'TIME_WAIT', note: 'z'.repeat(100) });
    const pieces = jsonPieces(new JsonArrayOf(items, toJson), '  ', '', 0);
    expect(pieces.next().value).toBe('[');
    pieces.next();
    expect(made).toBe(1); // the first slice is the first element alone
    pieces.next();
    expect(made).toBeGreaterThan(1);
    expect(made).toBeLessThan(items.length);
    for (const indent of [2, undefined]) {
      expect(written(new JsonArrayOf(items, toJson), indent).text).toBe(`${JSON.stringify(items.map(toJson), null, indent)}\n`);
      expect(written({ flagged: new JsonArrayOf(items, toJson) }, indent).text).toBe(`${JSON.stringify({ flagged: items.map(toJson) }, null, indent)}\n`);
    }
    expect(JSON.stringify(new JsonArrayOf(items, toJson))).toBe(JSON.stringify(items.map(toJson)));
    expect(written(new JsonArrayOf([], toJson), 2).text).toBe('[]\n');
  });

  it('hands the text over in pieces of about 1 MiB, never as one string', () => {
    const row = { state: 'SYN_SENT', note: 'x'.repeat(200) };
    const rows = { flagged: new Array<typeof row>(100_000).fill(row) };
    const pieces: string[] = [];
    writeJson({ write: (piece: string) => pieces.push(piece) }, rows, 2);
    expect(pieces.length).toBeGreaterThan(20);
    expect(Math.max(...pieces.map((p) => p.length))).toBeLessThan((1 << 20) + 1000);
    expect(pieces.join('')).toBe(`${JSON.stringify(rows, null, 2)}\n`);
  });
});

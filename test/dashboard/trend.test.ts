import { describe, expect, it } from 'vitest';
import { colorPaint, plainPaint } from '../../src/dashboard/render.js';
import { TREND_MIN, trendLines, type TrendPoint } from '../../src/dashboard/trend.js';

// The trend chart as text. Points are written for the test: one poll every 2 s, the counts of
// the case (flagged climbing to 6 while CLOSE_WAIT and SYN_SENT stay lower).

const T0 = Date.parse('2026-11-30T10:30:15Z');
function points(count: number, everyMs: number, value: (i: number) => [number, number, number]): TrendPoint[] {
  return Array.from({ length: count }, (_, i) => {
    const [flagged, closeWait, synSent] = value(i);
    return { atMs: T0 + i * everyMs, flagged, closeWait, synSent };
  });
}

const yTicks = (lines: string[]) => lines.slice(0, -1).map((line) => Number(line.split('│')[0]!.trim()));

describe('trend chart', () => {
  it('labels every row with whole numbers in equal steps down to 0: none skipped', () => {
    const lines = trendLines(
      points(60, 2000, (i) => [Math.min(6, Math.floor(i / 8)), 3, 1]),
      60,
      8,
      plainPaint,
    )!;
    expect(lines).toHaveLength(8);
    expect(yTicks(lines)).toEqual([6, 5, 4, 3, 2, 1, 0]);
    // Taller values: steps of 2, 3… but still every row, evenly.
    const tall = yTicks(
      trendLines(
        points(60, 2000, () => [40, 0, 0]),
        60,
        8,
        plainPaint,
      )!,
    );
    const steps = tall.slice(1).map((v, i) => tall[i]! - v);
    expect(new Set(steps).size).toBe(1);
    expect(tall.at(-1)).toBe(0);
    expect(tall[0]).toBeGreaterThanOrEqual(40);
  });

  it('plots each series at its value: the newest poll in the last column, flagged drawn over the others', () => {
    const lines = trendLines(
      points(30, 2000, (i) => (i === 29 ? [6, 3, 1] : [0, 0, 0])),
      40,
      8,
      plainPaint,
    )!;
    const lastColumn = lines.slice(0, -1).map((line) => line.at(-1));
    expect(lastColumn).toEqual(['*', ' ', ' ', 'c', ' ', 's', ' ']); // rows 6..0
    expect(
      trendLines(
        points(3, 2000, () => [2, 2, 0]),
        40,
        8,
        plainPaint,
      )!.some((l) => l.includes('*') && !l.includes('c')),
    ).toBe(true);
  });

  it('labels the x axis with ages relative to the newest poll, never clock times', () => {
    const lines = trendLines(
      points(60, 2000, () => [1, 0, 0]),
      60,
      8,
      plainPaint,
    )!;
    const axis = lines.at(-1)!;
    expect(axis.trimEnd().endsWith('now')).toBe(true);
    expect(axis).toMatch(/-1m\b/);
    expect(axis).not.toMatch(/\d\d:\d\d/);
    const labels = axis.trim().split(/\s+/);
    expect(labels.every((l) => l === 'now' || /^-\d+(s|m\d\ds|m)$/.test(l))).toBe(true);
    // Labels sit under the poll of that age: 57 columns show the last 57 polls, and `-1m` starts
    // at the column 30 polls (60 s) before the newest, the 57th.
    const plotStart = lines[0]!.indexOf('│') + 1;
    expect(axis.search(/-1m(?!\d)/) - plotStart).toBe(56 - 30);
  });

  it('is hidden when too small to read or with fewer than two polls', () => {
    const enough = points(10, 2000, () => [1, 1, 1]);
    expect(trendLines(enough, 60, TREND_MIN.plotRows, plainPaint)).toBeUndefined(); // one row short (the x labels take one)
    expect(trendLines(enough, 60, TREND_MIN.plotRows + 1, plainPaint)).toBeDefined();
    // The y labels (one digit here) and ` │` take 3 columns.
    expect(trendLines(enough, TREND_MIN.plotColumns + 3, 8, plainPaint)).toBeDefined();
    expect(trendLines(enough, TREND_MIN.plotColumns + 2, 8, plainPaint)).toBeUndefined();
    expect(trendLines(enough.slice(0, 1), 60, 8, plainPaint)).toBeUndefined();
  });

  it('colours the marks by series, and only the marks', () => {
    const lines = trendLines(
      points(3, 2000, () => [2, 1, 0]),
      30,
      6,
      colorPaint,
    )!;
    expect(lines.join('\n')).toContain('{red-fg}*{/red-fg}');
    expect(lines.join('\n')).toContain('{yellow-fg}c{/yellow-fg}');
    expect(lines.join('\n')).toContain('{cyan-fg}s{/cyan-fg}');
  });
});

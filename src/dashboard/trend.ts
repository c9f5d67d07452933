import type { Evaluation } from '../core/evaluate.js';
import { maxOf } from '../core/lists.js';
import type { Paint } from './render.js';

export interface TrendPoint {
  atMs: number;
  flagged: number;
  closeWait: number;
  synSent: number;
}

/** The last `capacity` polls' counts for the trend chart: a ring, so memory stays bounded. */
export class TrendHistory {
  private readonly kept: TrendPoint[] = [];

  constructor(private readonly capacity: number) {}

  add(atMs: number, evaluation: Evaluation): void {
    let flagged = evaluation.countFlags.length;
    let closeWait = 0;
    let synSent = 0;
    // Indexed: run once a poll, this loop may not be optimised, and for…of would then allocate an
    // iterator result per row (100,000 a poll).
    const views = evaluation.views;
    for (let i = 0; i < views.length; i++) {
      const v = views[i]!;
      if (v.flag && v.flag.kind !== 'count') flagged++;
      if (v.row.state === 'CLOSE_WAIT') closeWait++;
      else if (v.row.state === 'SYN_SENT') synSent++;
    }
    this.kept.push({ atMs, flagged, closeWait, synSent });
    if (this.kept.length > this.capacity) this.kept.shift();
  }

  get size(): number {
    return this.kept.length;
  }

  points(): readonly TrendPoint[] {
    return this.kept;
  }
}

/** The three lines, drawn last to first so flagged wins a shared cell. Marks are ASCII: any console has them. */
export const TREND_SERIES = [
  { name: 'flagged', mark: '*', color: 'red', value: (p: TrendPoint) => p.flagged },
  { name: 'CLOSE_WAIT', mark: 'c', color: 'yellow', value: (p: TrendPoint) => p.closeWait },
  { name: 'SYN_SENT', mark: 's', color: 'cyan', value: (p: TrendPoint) => p.synSent },
] as const;

/** The chart's legend, for its box label. */
export const TREND_LEGEND = TREND_SERIES.map((s) => `${s.mark} ${s.name}`).join('  ');

/** Below this the chart is not drawn: fewer rows cannot show a change, fewer columns not a minute. */
export const TREND_MIN = { plotRows: 4, plotColumns: 20 } as const;

// Label spacings tried, smallest first: the first whose labels do not collide is used.
const LABEL_STEPS_MS = [10_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000];

/**
 * A text chart of the last polls in `width`×`height` characters (inside the box), or undefined
 * when that is too small to read (TREND_MIN) or there are fewer than two polls. One column per
 * poll, newest at the right. The y axis is labelled on every row with whole numbers in equal steps
 * (0, 1, 2… or 0, 2, 4…: no value skipped); the x axis with ages relative to the newest poll
 * (`-2m … now`), never clock times.
 */
export function trendLines(points: readonly TrendPoint[], width: number, height: number, paint: Paint): string[] | undefined {
  const rows = height - 1; // the last line holds the x labels
  const top = maxOf(
    points.flatMap((p) => TREND_SERIES.map((s) => s.value(p))),
    1,
  );
  const step = Math.max(1, Math.ceil(top / Math.max(1, rows - 1)));
  const labelWidth = String((rows - 1) * step).length;
  const columns = width - labelWidth - 2;
  if (rows < TREND_MIN.plotRows || columns < TREND_MIN.plotColumns || points.length < 2) return undefined;
  const shown = points.slice(-columns);
  const offset = columns - shown.length; // right-aligned: the newest poll at the right edge
  const grid: (number | undefined)[][] = Array.from({ length: rows }, () => new Array<number | undefined>(columns).fill(undefined));
  for (let s = TREND_SERIES.length - 1; s >= 0; s--) {
    shown.forEach((point, i) => {
      const row = rows - 1 - Math.round(TREND_SERIES[s]!.value(point) / step);
      grid[Math.max(0, row)]![offset + i] = s;
    });
  }
  const lines = grid.map((cells, r) => {
    const label = String((rows - 1 - r) * step).padStart(labelWidth);
    const plot = cells.map((s) => (s === undefined ? ' ' : paint(TREND_SERIES[s]!.mark, TREND_SERIES[s]!.color))).join('');
    return `${label} │${plot}`;
  });
  lines.push(' '.repeat(labelWidth + 2) + xLabels(shown, offset, columns));
  return lines;
}

/** Ages under the columns: `now` at the newest poll, `-30s`, `-1m`… at the first poll that old. */
function xLabels(shown: readonly TrendPoint[], offset: number, columns: number): string {
  const newest = shown.at(-1)!.atMs;
  const now = { start: columns - 3, text: 'now' };
  for (const stepMs of LABEL_STEPS_MS) {
    const labels = [now];
    let fits = true;
    for (let k = 1; ; k++) {
      // Walking back from the newest: the column of the newest poll at least k steps old.
      let index = -1;
      for (let i = shown.length - 1; i >= 0; i--) {
        if (newest - shown[i]!.atMs >= k * stepMs) {
          index = i;
          break;
        }
      }
      if (index < 0) break;
      const text = ago(k * stepMs);
      const start = offset + index;
      const next = labels.at(-1)!;
      if (start + text.length + 1 > next.start) {
        fits = false;
        break;
      }
      labels.push({ start, text });
    }
    if (fits || stepMs === LABEL_STEPS_MS.at(-1)) {
      const line = new Array<string>(columns).fill(' ');
      for (const label of labels) [...label.text].forEach((c, i) => (line[label.start + i] = c));
      return line.join('').trimEnd();
    }
  }
  return '';
}

/** `-10s`, `-1m`, `-1m30s`, `-2h`: an age, written as short as it reads. */
function ago(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `-${seconds}s`;
  if (seconds % 3600 === 0) return `-${seconds / 3600}h`;
  const minutes = Math.floor(seconds / 60);
  return seconds % 60 === 0 ? `-${minutes}m` : `-${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
}

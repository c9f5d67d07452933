import type { Evaluation } from '../core/evaluate.js';

/** The last `capacity` polls' counts for the trend chart: a ring, so memory stays bounded. */
export class TrendHistory {
  private readonly points: { atMs: number; flagged: number; closeWait: number; synSent: number }[] = [];

  constructor(private readonly capacity: number) {}

  add(atMs: number, evaluation: Evaluation): void {
    let flagged = evaluation.countFlags.length;
    let closeWait = 0;
    let synSent = 0;
    for (const v of evaluation.views) {
      if (v.flag && v.flag.kind !== 'count') flagged++;
      if (v.row.state === 'CLOSE_WAIT') closeWait++;
      else if (v.row.state === 'SYN_SENT') synSent++;
    }
    this.points.push({ atMs, flagged, closeWait, synSent });
    if (this.points.length > this.capacity) this.points.shift();
  }

  get size(): number {
    return this.points.length;
  }

  series(): { labels: string[]; flagged: number[]; closeWait: number[]; synSent: number[] } {
    return {
      labels: this.points.map((p) => new Date(p.atMs).toISOString().slice(14, 19)),
      flagged: this.points.map((p) => p.flagged),
      closeWait: this.points.map((p) => p.closeWait),
      synSent: this.points.map((p) => p.synSent),
    };
  }
}

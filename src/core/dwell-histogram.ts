import { TcpState } from './tcp-state.js';
import type { TrackerEvent } from './tracker.js';

// Cumulative histograms of the time connections spent in the half-open and half-close states,
// observed when they leave the state (a transition, or the connection closing). Prometheus
// histograms must only grow, so current dwells are not in them (see oldestDwell). Pure.

export type DwellClass = 'half_open' | 'half_close';

export const DWELL_BUCKETS_SECONDS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600] as const;

const CLASS_OF: Partial<Record<TcpState, DwellClass>> = {
  [TcpState.SYN_SENT]: 'half_open',
  [TcpState.SYN_RECEIVED]: 'half_open',
  [TcpState.FIN_WAIT_1]: 'half_close',
  [TcpState.FIN_WAIT_2]: 'half_close',
  [TcpState.CLOSE_WAIT]: 'half_close',
  [TcpState.CLOSING]: 'half_close',
  [TcpState.LAST_ACK]: 'half_close',
};

export function dwellClassOf(state: TcpState): DwellClass | undefined {
  return CLASS_OF[state];
}

export interface Histogram {
  /** Counts per bucket upper bound (not cumulative); the last entry is +Inf. */
  buckets: number[];
  sum: number;
  count: number;
}

export type DwellHistograms = Record<DwellClass, Histogram>;

export function emptyDwellHistograms(): DwellHistograms {
  const empty = (): Histogram => ({ buckets: new Array<number>(DWELL_BUCKETS_SECONDS.length + 1).fill(0), sum: 0, count: 0 });
  return { half_open: empty(), half_close: empty() };
}

/** Adds the dwells that ended in this poll (its events: a state left, a connection closed). */
export function observeDwells(histograms: DwellHistograms, events: readonly TrackerEvent[]): DwellHistograms {
  const next: DwellHistograms = { half_open: copy(histograms.half_open), half_close: copy(histograms.half_close) };
  for (const event of events) {
    let state: TcpState;
    let sinceMs: number;
    if (event.type === 'state-changed') {
      state = event.from;
      sinceMs = event.fromSinceMs;
    } else if (event.type === 'closed') {
      state = event.lastState;
      sinceMs = event.connection.stateSinceMs;
    } else {
      continue;
    }
    const dwellClass = CLASS_OF[state];
    if (!dwellClass) continue;
    // A close confirmed by a second reading ended by the first one that missed it, not an interval later.
    const endedByMs = (event.type === 'closed' ? event.goneByMs : event.leftByMs) ?? event.atMs;
    observe(next[dwellClass], Math.max(0, endedByMs - sinceMs) / 1000);
  }
  return next;
}

function copy(h: Histogram): Histogram {
  return { buckets: [...h.buckets], sum: h.sum, count: h.count };
}

function observe(h: Histogram, seconds: number): void {
  const index = DWELL_BUCKETS_SECONDS.findIndex((le) => seconds <= le);
  h.buckets[index < 0 ? DWELL_BUCKETS_SECONDS.length : index]! += 1;
  h.sum += seconds;
  h.count += 1;
}
